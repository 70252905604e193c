/* tripbit_region_*: breakers shared by processes through a region file.
 * Error codes for bad paths, files, names and configs; then 4 forked
 * processes hammer one shared breaker: it trips after exactly
 * consecutive_failures failures summed over all of them, and every process
 * (the parent too) sees it open. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define CHECK_REGION(expr, want)                                                    \
    do {                                                                            \
        tripbit_region_result_t rr_ = (expr);                                       \
        if (rr_ == (tripbit_region_result_t)(want)) {                               \
            checks_passed++;                                                        \
        } else {                                                                    \
            checks_failed++;                                                        \
            fprintf(stderr, "%s:%d: %s\n    returned %u (%s), expected %s\n",       \
                    __FILE__, __LINE__, #expr, (unsigned)rr_,                       \
                    tripbit_region_strerror(rr_), #want);                           \
        }                                                                           \
    } while (0)

#define WORKERS 4
#define THRESHOLD 200u

static char path[128];

static void write_file(const char *p, const void *bytes, size_t n) {
    FILE *f = fopen(p, "wb");
    if (f == NULL || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        perror(p);
        exit(2);
    }
}

static tripbit_config_t shared_config(void) {
    tripbit_config_t c = tripbit_config_default();
    c.open_ticks = 60ull * 1000 * 1000 * 1000; /* ns: open for a minute */
    c.consecutive_failures = THRESHOLD;
    return c;
}

static void bad_input(void) {
    tripbit_region_t *r = NULL;
    CHECK_REGION(tripbit_region_open(NULL, 4, &r), TRIPBIT_REGION_E_NULL);
    CHECK_REGION(tripbit_region_open(path, 4, NULL), TRIPBIT_REGION_E_NULL);
    CHECK_REGION(tripbit_region_open("/dev/shm/tripbit-no-such-dir/r", 4, &r),
                 TRIPBIT_REGION_E_NOT_FOUND);
    CHECK(r == NULL);
    CHECK_REGION(tripbit_region_open(path, 0, &r), TRIPBIT_REGION_E_CAPACITY);

    char foreign[256];
    snprintf(foreign, sizeof foreign, "%s.foreign", path);
    const char text[] = "this is a text file, not a tripbit region; it is long enough. "
                        "this is a text file, not a tripbit region; it is long enough. "
                        "this is a text file, not a tripbit region; it is long enough.";
    write_file(foreign, text, sizeof text);
    CHECK_REGION(tripbit_region_open(foreign, 4, &r), TRIPBIT_REGION_E_NOT_A_REGION);
    CHECK_REGION(tripbit_region_remove(foreign), TRIPBIT_REGION_E_NOT_A_REGION);
    unlink(foreign);

    /* A region cut to 200 bytes. */
    char cut[256];
    snprintf(cut, sizeof cut, "%s.cut", path);
    CHECK_REGION(tripbit_region_open(cut, 4, &r), TRIPBIT_REGION_OK);
    tripbit_region_close(r);
    r = NULL;
    CHECK(truncate(cut, 200) == 0);
    CHECK_REGION(tripbit_region_open(cut, 4, &r), TRIPBIT_REGION_E_TRUNCATED);
    unlink(cut);

    /* Names and configs. */
    CHECK_REGION(tripbit_region_open(path, 8, &r), TRIPBIT_REGION_OK);
    tripbit_config_t c = shared_config();
    tripbit_breaker_t *b = NULL, *again = NULL;
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", &c, &b), TRIPBIT_REGION_OK);
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", &c, &again), TRIPBIT_REGION_OK);
    CHECK(b != NULL && b == again);
    CHECK_REGION(tripbit_region_breaker(NULL, "c.svc", &c, &b), TRIPBIT_REGION_E_NULL);
    CHECK_REGION(tripbit_region_breaker(r, NULL, &c, &b), TRIPBIT_REGION_E_NULL);
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", NULL, &b), TRIPBIT_REGION_E_NULL);
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", &c, NULL), TRIPBIT_REGION_E_NULL);

    char long_name[TRIPBIT_REGION_NAME_MAX + 2];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    tripbit_breaker_t *none = NULL;
    CHECK_REGION(tripbit_region_breaker(r, long_name, &c, &none), TRIPBIT_REGION_E_NAME);
    CHECK_REGION(tripbit_region_breaker(r, "", &c, &none), TRIPBIT_REGION_E_NAME);
    tripbit_config_t other = c;
    other.consecutive_failures = 3;
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", &other, &none),
                 TRIPBIT_REGION_E_CONFIG_MISMATCH);
    tripbit_config_t bad = c;
    bad.open_ticks = 0;
    CHECK_REGION(tripbit_region_breaker(r, "c.bad", &bad, &none), TRIPBIT_REGION_E_CONFIG);
    CHECK_RC(tripbit_config_check(&bad), TRIPBIT_E_CONFIG_OPEN_TICKS);
    CHECK(none == NULL);
    CHECK(strlen(tripbit_region_strerror(TRIPBIT_REGION_E_TABLE_FULL)) > 10);
    CHECK(strstr(tripbit_region_strerror(999), "unknown") != NULL);
    tripbit_region_close(r);
    tripbit_region_close(NULL);

    /* A full table. */
    char small[256];
    snprintf(small, sizeof small, "%s.small", path);
    CHECK_REGION(tripbit_region_open(small, 2, &r), TRIPBIT_REGION_OK);
    CHECK_REGION(tripbit_region_breaker(r, "a", &c, &b), TRIPBIT_REGION_OK);
    CHECK_REGION(tripbit_region_breaker(r, "b", &c, &b), TRIPBIT_REGION_OK);
    CHECK_REGION(tripbit_region_breaker(r, "c", &c, &b), TRIPBIT_REGION_E_TABLE_FULL);
    tripbit_region_close(r);
    CHECK_REGION(tripbit_region_remove(small), TRIPBIT_REGION_OK);
    CHECK(access(small, F_OK) != 0);
}

/* A worker: attach, fail until rejected, report the failures counted. */
static int worker(int fd, uint64_t start) {
    tripbit_region_t *r = NULL;
    tripbit_breaker_t *b = NULL;
    tripbit_config_t c = shared_config();
    if (tripbit_region_open(path, 8, &r) != TRIPBIT_REGION_OK ||
        tripbit_region_breaker(r, "c.svc", &c, &b) != TRIPBIT_REGION_OK) {
        return 3;
    }
    while (tripbit_region_now() < start) {
    }
    unsigned counted = 0, trips = 0, stale = 0;
    for (;;) {
        tripbit_ticket_t t;
        tripbit_transition_t tr;
        tripbit_result_t rc = tripbit_breaker_acquire(b, tripbit_region_now(), &t, NULL);
        if (rc == TRIPBIT_E_REJECTED) {
            break;
        }
        if (rc != TRIPBIT_OK) {
            return 4;
        }
        rc = tripbit_breaker_record(b, &t, TRIPBIT_OUTCOME_FAILURE, tripbit_region_now(), &tr);
        if (rc == TRIPBIT_OK) {
            counted++;
            trips += tr.occurred && tr.to == TRIPBIT_STATE_OPEN;
        } else if (rc == TRIPBIT_E_STALE) {
            stale++;
        } else {
            return 5;
        }
        usleep(20); /* let the other workers in */
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%u %u %u\n", counted, trips, stale);
    if (write(fd, line, (size_t)n) != n) {
        return 6;
    }
    tripbit_region_close(r);
    return 0;
}

static void shared_across_processes(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    uint64_t start = tripbit_region_now() + 200ull * 1000 * 1000;
    pid_t kids[WORKERS];
    for (int i = 0; i < WORKERS; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            close(fds[0]);
            _exit(worker(fds[1], start));
        }
    }
    close(fds[1]);
    for (int i = 0; i < WORKERS; i++) {
        int status = 0;
        CHECK(waitpid(kids[i], &status, 0) == kids[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    FILE *in = fdopen(fds[0], "r");
    unsigned counted = 0, trips = 0, stale = 0, reports = 0, contributors = 0;
    unsigned c, t, s;
    while (in != NULL && fscanf(in, "%u %u %u", &c, &t, &s) == 3) {
        counted += c;
        trips += t;
        stale += s;
        contributors += c > 0;
        reports++;
    }
    if (in != NULL) {
        fclose(in);
    }
    CHECK(reports == WORKERS);
    CHECK(counted == THRESHOLD);
    CHECK(trips == 1);

    /* The parent maps the same breaker and sees it open. */
    tripbit_region_t *r = NULL;
    tripbit_breaker_t *b = NULL;
    tripbit_config_t cfg = shared_config();
    CHECK_REGION(tripbit_region_open(path, 8, &r), TRIPBIT_REGION_OK);
    CHECK_REGION(tripbit_region_breaker(r, "c.svc", &cfg, &b), TRIPBIT_REGION_OK);
    tripbit_state_t st = TRIPBIT_STATE_CLOSED;
    CHECK_RC(tripbit_breaker_state(b, tripbit_region_now(), &st), TRIPBIT_OK);
    CHECK(st == TRIPBIT_STATE_OPEN);
    tripbit_ticket_t ticket;
    CHECK_RC(tripbit_breaker_acquire(b, tripbit_region_now(), &ticket, NULL), TRIPBIT_E_REJECTED);
    tripbit_region_close(r);
    printf("region: %u failures from %u of %d processes tripped it once (%u stale)\n", counted,
           contributors, WORKERS, stale);
}

int main(void) {
    snprintf(path, sizeof path, "/dev/shm/tripbit-c-region-%ld", (long)getpid());
    unlink(path);
    bad_input();
    shared_across_processes();
    CHECK_REGION(tripbit_region_remove(path), TRIPBIT_REGION_OK);
    return check_summary("region");
}
