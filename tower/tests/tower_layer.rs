//! tripbit's tower layer under tokio, around a `tower::service_fn`:
//! concurrent half-open probe admission, and how a timeout's position
//! decides whether a hang counts as a failure.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tower::timeout::Timeout;
use tower::{Layer, ServiceExt, service_fn};
use tripbit::{Breaker, Config, State, Transition, clock};
use tripbit_tower::{CircuitBreakerLayer, Error};

const DEADLINE: Duration = Duration::from_secs(15);

async fn wait_for_state(breaker: &Breaker, state: State) {
    let start = Instant::now();
    while breaker.state(clock::now()) != state {
        assert!(start.elapsed() < DEADLINE, "never reached {state}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Trips `breaker` (threshold 1) with one failing call through the layer.
fn tripping_breaker(open: Duration, probes: u8) -> Arc<Breaker> {
    Arc::new(Breaker::new(
        Config::new(clock::ticks(open))
            .consecutive_failures(1)
            .probes(probes)
            .close_after(u16::from(probes)),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_admits_exactly_the_configured_probes_concurrently() {
    const PROBES: u8 = 2;
    const CALLERS: usize = 8;
    let breaker = tripping_breaker(Duration::from_millis(20), PROBES);
    let calls = Arc::new(AtomicU32::new(0));
    // Admitted healthy calls wait here until the test lets them finish.
    let gate = Arc::new(Semaphore::new(0));
    let seen = Arc::new(Mutex::new(Vec::new()));

    let (counter, held) = (calls.clone(), gate.clone());
    let inner = service_fn(move |fail: bool| {
        // Counted when called, not when first polled.
        counter.fetch_add(1, Ordering::SeqCst);
        let held = held.clone();
        async move {
            if fail {
                return Err("down");
            }
            held.acquire().await.expect("gate open").forget();
            Ok("quote")
        }
    });
    let log = seen.clone();
    let svc = CircuitBreakerLayer::new(breaker.clone())
        .on_transition(move |t: Transition| log.lock().unwrap().push((t.from, t.to)))
        .layer(inner);

    assert_eq!(svc.clone().oneshot(true).await, Err(Error::Inner("down")));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    wait_for_state(&breaker, State::HalfOpen).await;

    // CALLERS concurrent calls: PROBES are admitted (and held at the gate),
    // the others are rejected at once without reaching the inner service.
    let mut set = JoinSet::new();
    for _ in 0..CALLERS {
        set.spawn(svc.clone().oneshot(false));
    }
    for _ in 0..CALLERS - usize::from(PROBES) {
        let done = tokio::time::timeout(DEADLINE, set.join_next())
            .await
            .expect("the rejections come at once")
            .expect("a task")
            .expect("no panic");
        match done {
            Err(Error::Rejected(r)) => {
                assert_eq!(r.state, State::HalfOpen);
                assert_eq!(r.retry_at, None);
            }
            other => panic!("only rejections can finish while the gate is shut: {other:?}"),
        }
    }
    let start = Instant::now();
    while calls.load(Ordering::SeqCst) < 1 + u32::from(PROBES) {
        assert!(start.elapsed() < DEADLINE);
        tokio::task::yield_now().await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1 + u32::from(PROBES));
    let s = breaker.snapshot(clock::now());
    assert_eq!(s.state, State::HalfOpen);
    assert_eq!(s.probes_in_flight, u32::from(PROBES));
    assert_eq!(set.len(), usize::from(PROBES));

    // Both probes succeed: the breaker closes.
    gate.add_permits(usize::from(PROBES));
    while let Some(done) = tokio::time::timeout(DEADLINE, set.join_next())
        .await
        .expect("the probes finish")
    {
        assert_eq!(done.unwrap(), Ok("quote"));
    }
    assert_eq!(breaker.state(clock::now()), State::Closed);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
        ]
    );
    // Closed: every call goes through again.
    gate.add_permits(CALLERS);
    for _ in 0..CALLERS {
        assert_eq!(svc.clone().oneshot(false).await, Ok("quote"));
    }
}

/// A hang is a failure only when the timeout is inside the breaker:
/// `breaker(timeout(svc))` records the timeout's error; `timeout(breaker(svc))`
/// cancels the call, which counts nothing and frees its probe slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_inside_the_breaker_fails_one_outside_cancels() {
    const TIMEOUT: Duration = Duration::from_millis(20);
    let hang = || service_fn(|()| std::future::pending::<Result<(), std::io::Error>>());

    // Inside: the hang becomes `Elapsed`, a failure, and trips the breaker.
    let inside = tripping_breaker(Duration::from_secs(600), 1);
    let svc = CircuitBreakerLayer::new(inside.clone()).layer(Timeout::new(hang(), TIMEOUT));
    match svc.clone().oneshot(()).await {
        Err(Error::Inner(e)) => assert!(e.is::<tower::timeout::error::Elapsed>(), "{e}"),
        other => panic!("expected the timeout's error: {other:?}"),
    }
    assert_eq!(inside.state(clock::now()), State::Open);
    assert!(svc.oneshot(()).await.unwrap_err().is_rejected());

    // Outside: the cancelled call counts nothing, closed or half-open.
    let outside = tripping_breaker(Duration::from_millis(20), 1);
    let svc = Timeout::new(
        CircuitBreakerLayer::new(outside.clone()).layer(hang()),
        TIMEOUT,
    );
    let e = svc.clone().oneshot(()).await.unwrap_err();
    assert!(e.is::<tower::timeout::error::Elapsed>(), "{e}");
    assert_eq!(outside.state(clock::now()), State::Closed);
    assert_eq!(outside.snapshot(clock::now()).consecutive_failures, 0);
    // Trip it by hand, wait out the open period, and cancel the probe.
    outside
        .try_acquire(clock::now())
        .unwrap()
        .record(tripbit::Outcome::Failure, clock::now());
    wait_for_state(&outside, State::HalfOpen).await;
    let e = svc.clone().oneshot(()).await.unwrap_err();
    assert!(e.is::<tower::timeout::error::Elapsed>(), "{e}");
    let s = outside.snapshot(clock::now());
    assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
    assert_eq!((s.probe_successes, s.probe_failures), (0, 0));
    // The slot is free: the next call is admitted as the probe again.
    assert!(outside.try_acquire(clock::now()).unwrap().is_probe());
}
