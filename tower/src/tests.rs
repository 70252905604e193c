//! The layer's unit tests: mock services, driven by hand.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use tower_layer::Layer;
use tower_service::Service;
use tripbit::{Breaker, Config, Outcome, Policy, State, Transition, Window, clock};

use crate::*;
use core::cell::Cell;
use core::future::{Pending, Ready};
use std::rc::Rc;
use std::vec::Vec;

/// A mock upstream: request `Ok(v)` / `Err(e)` answers at once, `None`
/// never answers; counts its calls.
#[derive(Clone, Default)]
struct Mock {
    calls: Rc<Cell<u32>>,
}

enum Reply {
    Ready(Ready<Result<u16, &'static str>>),
    Pending(Pending<Result<u16, &'static str>>),
}

impl Future for Reply {
    type Output = Result<u16, &'static str>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Reply::Ready(f) => Pin::new(f).poll(cx),
            Reply::Pending(f) => Pin::new(f).poll(cx),
        }
    }
}

impl Service<Option<Result<u16, &'static str>>> for Mock {
    type Response = u16;
    type Error = &'static str;
    type Future = Reply;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Option<Result<u16, &'static str>>) -> Reply {
        self.calls.set(self.calls.get() + 1);
        match req {
            Some(r) => Reply::Ready(core::future::ready(r)),
            None => Reply::Pending(core::future::pending()),
        }
    }
}

fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(core::task::Waker::noop()))
}

fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = poll_once(f.as_mut()) {
            return v;
        }
    }
}

/// An open period long enough never to elapse during a test (1 hour).
const LONG: u64 = 3_600_000_000_000;

/// Trips `b`'s (consecutive, threshold-1) breaker and waits out a 1 ns
/// open period, so the next call is the half-open probe.
fn trip_and_expire<P: Policy>(b: &Breaker<P>) {
    b.try_acquire(clock::now())
        .unwrap()
        .record(Outcome::Failure, clock::now());
    while b.state(clock::now()) != State::HalfOpen {
        std::thread::yield_now();
    }
}

#[test]
fn default_classifier_trips_and_rejects_without_calling_inner() {
    let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(2)));
    let mock = Mock::default();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(mock.clone());
    assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
    assert_eq!(block_on(svc.call(Some(Err("e")))), Err(Error::Inner("e")));
    assert_eq!(b.snapshot(clock::now()).consecutive_failures, 1);
    assert_eq!(block_on(svc.call(Some(Err("e")))), Err(Error::Inner("e")));
    assert_eq!(b.state(clock::now()), State::Open);
    assert_eq!(mock.calls.get(), 3);
    let r = block_on(svc.call(Some(Ok(1))));
    match r {
        Err(Error::Rejected(r)) => {
            assert_eq!(r.state, State::Open);
            assert!(r.retry_at.is_some());
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(mock.calls.get(), 3, "a rejected call never reaches inner");
}

#[test]
fn poll_ready_delegates() {
    struct NotReady;
    impl Service<()> for NotReady {
        type Response = ();
        type Error = &'static str;
        type Future = Ready<Result<(), &'static str>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
            Poll::Ready(Err("down"))
        }
        fn call(&mut self, _: ()) -> Self::Future {
            core::future::ready(Ok(()))
        }
    }
    let mut svc = CircuitBreakerService::new(NotReady, Arc::new(Breaker::new(Config::new(LONG))));
    let mut cx = Context::from_waker(core::task::Waker::noop());
    assert_eq!(
        svc.poll_ready(&mut cx),
        Poll::Ready(Err(Error::Inner("down")))
    );
}

#[test]
fn custom_classifier_ignores_client_errors() {
    let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(2)));
    let mut svc = CircuitBreakerLayer::new(b.clone())
        .classify(|r: &Result<u16, &'static str>| match r {
            Ok(500..) | Err(_) => Outcome::Failure,
            Ok(400..) => Outcome::Ignored,
            Ok(_) => Outcome::Success,
        })
        .layer(Mock::default());
    block_on(svc.call(Some(Ok(503)))).unwrap();
    // 404 is ignored: the failure streak neither grows nor resets.
    for _ in 0..5 {
        assert_eq!(block_on(svc.call(Some(Ok(404)))), Ok(404));
    }
    assert_eq!(b.snapshot(clock::now()).consecutive_failures, 1);
    block_on(svc.call(Some(Ok(200)))).unwrap();
    assert_eq!(b.snapshot(clock::now()).consecutive_failures, 0);
    block_on(svc.call(Some(Ok(500)))).unwrap();
    block_on(svc.call(Some(Ok(502)))).unwrap();
    assert_eq!(b.state(clock::now()), State::Open);
}

#[test]
fn dropped_probe_frees_its_slot_and_counts_nothing() {
    // A 1 ns open period; no probe deadline, so the held probe keeps its slot.
    let b = Arc::new(Breaker::new(
        Config::new(1)
            .consecutive_failures(1)
            .probe_timeout(u64::MAX),
    ));
    trip_and_expire(&*b);
    let mock = Mock::default();
    let mut svc = CircuitBreakerService::new(mock.clone(), b.clone());
    {
        let mut probe = core::pin::pin!(svc.call(None));
        assert!(poll_once(probe.as_mut()).is_pending());
        let s = b.snapshot(clock::now());
        assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 1));
        // The only slot is taken: the next call is rejected, inner not called.
        assert!(block_on(svc.call(Some(Ok(1)))).unwrap_err().is_rejected());
        assert_eq!(mock.calls.get(), 1);
    } // the probe's future is dropped here, unfinished
    let s = b.snapshot(clock::now());
    assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
    assert_eq!((s.probe_successes, s.probe_failures), (0, 0));
    // A real probe now closes it.
    assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
    assert_eq!(b.state(clock::now()), State::Closed);
}

#[test]
fn dropped_closed_call_counts_nothing() {
    let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(1)));
    let mut svc = CircuitBreakerService::new(Mock::default(), b.clone());
    drop(svc.call(None));
    drop(svc.call(Some(Err("never polled"))));
    assert_eq!(b.snapshot(clock::now()).consecutive_failures, 0);
    assert_eq!(b.state(clock::now()), State::Closed);
}

#[test]
fn hook_sees_every_transition_the_service_causes() {
    let b = Arc::new(Breaker::new(Config::new(1).consecutive_failures(1)));
    let seen = Rc::new(core::cell::RefCell::new(Vec::new()));
    let log = seen.clone();
    let breaker = b.clone();
    let mut svc = CircuitBreakerLayer::new(b.clone())
        .on_transition(move |t: Transition| {
            // Outside any lock: reading the breaker from the hook is fine.
            assert_eq!(breaker.snapshot(clock::now()).generation, t.generation);
            log.borrow_mut().push((t.from, t.to));
        })
        .layer(Mock::default());
    block_on(svc.call(Some(Err("e")))).unwrap_err();
    while b.state(clock::now()) != State::HalfOpen {
        std::thread::yield_now();
    }
    block_on(svc.call(Some(Err("e")))).unwrap_err(); // probe fails: reopen
    while b.state(clock::now()) != State::HalfOpen {
        std::thread::yield_now();
    }
    block_on(svc.call(Some(Ok(1)))).unwrap(); // probe succeeds: close
    assert_eq!(
        *seen.borrow(),
        [
            (State::Closed, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Open),
            (State::Open, State::HalfOpen),
            (State::HalfOpen, State::Closed),
        ]
    );
}

#[test]
fn stale_results_are_discarded() {
    let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(1)));
    let mut svc = CircuitBreakerService::new(Mock::default(), b.clone());
    let fut = svc.call(Some(Err("late")));
    b.reset(); // new generation before the call finishes
    assert_eq!(block_on(fut), Err(Error::Inner("late")));
    assert_eq!(b.state(clock::now()), State::Closed);
}

#[test]
fn forced_open_rejects_with_no_retry_time() {
    static B: Breaker = Breaker::new(Config::new(LONG));
    let mock = Mock::default();
    let mut svc = CircuitBreakerLayer::new(&B).layer(mock.clone());
    B.force_open();
    assert_eq!(
        block_on(svc.call(Some(Ok(1)))),
        Err(Error::Rejected(Rejected {
            state: State::ForcedOpen,
            retry_at: None
        }))
    );
    assert_eq!(mock.calls.get(), 0);
    B.reset();
    assert_eq!(block_on(svc.call(Some(Ok(1)))), Ok(1));
}

#[test]
fn window_policy_through_the_layer() {
    let b: Arc<Breaker<Window<4>>> =
        Arc::new(Breaker::new_window(Config::new(LONG).failure_rate(50, 4)));
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(Mock::default());
    for r in [Ok(1), Err("e"), Ok(1), Err("e")] {
        let _ = block_on(svc.call(Some(r)));
    }
    assert_eq!(b.state(clock::now()), State::Open);
}

#[test]
fn error_display_and_source() {
    use std::error::Error as _;
    use std::string::ToString;
    let e: Error<std::io::Error> = Error::Inner(std::io::Error::other("boom"));
    assert_eq!(e.to_string(), "boom");
    assert!(e.source().is_some());
    let r: Error<std::io::Error> = Rejected {
        state: State::Open,
        retry_at: Some(9),
    }
    .into();
    assert_eq!(r.to_string(), "circuit breaker open until tick 9");
    assert!(r.into_inner().is_none());
}

/// `Mock` for the threaded tests: `Send`, its calls in an atomic.
#[derive(Clone, Default)]
struct SendMock {
    calls: Arc<std::sync::atomic::AtomicU32>,
}

impl SendMock {
    fn calls(&self) -> u32 {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Service<Option<Result<u16, &'static str>>> for SendMock {
    type Response = u16;
    type Error = &'static str;
    type Future = Reply;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Option<Result<u16, &'static str>>) -> Reply {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match req {
            Some(r) => Reply::Ready(core::future::ready(r)),
            None => Reply::Pending(core::future::pending()),
        }
    }
}

#[test]
fn concurrent_calls_admit_exactly_the_probe_limit() {
    const PROBES: u8 = 3;
    const THREADS: usize = 8;
    let b = Arc::new(Breaker::new(
        Config::new(1)
            .consecutive_failures(1)
            .probes(PROBES)
            .close_after(u16::from(PROBES))
            .probe_timeout(u64::MAX),
    ));
    trip_and_expire(&*b);
    let mock = SendMock::default();
    let svc = CircuitBreakerService::new(mock.clone(), b.clone());
    let start = Arc::new(std::sync::Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (mut svc, start) = (svc.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                svc.call(None) // a call that never answers
            })
        })
        .collect();
    let mut futures: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let (mut admitted, mut rejected) = (0, 0);
    for f in &mut futures {
        match poll_once(Pin::new(f)) {
            Poll::Pending => admitted += 1,
            Poll::Ready(Err(Error::Rejected(r))) => {
                assert_eq!((r.state, r.retry_at), (State::HalfOpen, None));
                rejected += 1;
            }
            Poll::Ready(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        (admitted, rejected),
        (PROBES.into(), THREADS - usize::from(PROBES))
    );
    assert_eq!(
        mock.calls(),
        u32::from(PROBES),
        "rejected calls never reach inner"
    );
    let s = b.snapshot(clock::now());
    assert_eq!(
        (s.state, s.probes_in_flight),
        (State::HalfOpen, u32::from(PROBES))
    );
    // Cancelling every probe frees every slot and counts nothing.
    drop(futures);
    let s = b.snapshot(clock::now());
    assert_eq!((s.state, s.probes_in_flight), (State::HalfOpen, 0));
    assert_eq!((s.probe_successes, s.probe_failures), (0, 0));
}

#[test]
fn concurrent_failures_trip_once_and_then_reject() {
    const THREADS: usize = 4;
    const CALLS: usize = 100;
    let b = Arc::new(Breaker::new(Config::new(LONG).consecutive_failures(4)));
    let mock = SendMock::default();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = CircuitBreakerLayer::new(b.clone())
        .on_transition(move |t: Transition| log.lock().unwrap().push((t.from, t.to)))
        .layer(mock.clone());
    let start = Arc::new(std::sync::Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (mut svc, start) = (svc.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut failed = 0;
                for _ in 0..CALLS {
                    match block_on(svc.call(Some(Err("down")))) {
                        Err(Error::Inner("down")) => failed += 1,
                        Err(Error::Rejected(r)) => assert_eq!(r.state, State::Open),
                        other => panic!("unexpected {other:?}"),
                    }
                }
                failed
            })
        })
        .collect();
    let failed: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(failed, mock.calls(), "every admitted call reached inner");
    assert!(failed >= 4, "the threshold was reached");
    assert_eq!(b.state(clock::now()), State::Open);
    assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::Open)]);
    assert_eq!(b.snapshot(clock::now()).generation, 1);
}

#[test]
fn poll_ready_is_the_inner_services_even_while_open() {
    let b = Arc::new(Breaker::new(Config::new(LONG)));
    b.force_open();
    let mock = Mock::default();
    let mut svc = CircuitBreakerService::new(mock.clone(), b);
    let mut cx = Context::from_waker(core::task::Waker::noop());
    // Open does not make the service unready (that would stall callers
    // that wait for readiness); the call itself fails fast.
    assert_eq!(svc.poll_ready(&mut cx), Poll::Ready(Ok(())));
    assert!(block_on(svc.call(Some(Ok(1)))).unwrap_err().is_rejected());
    assert_eq!(mock.calls.get(), 0);
}

#[test]
fn futures_are_send_when_their_parts_are() {
    fn assert_send<T: Send>(_: &T) {}
    #[derive(Clone)]
    struct SendMock;
    impl Service<()> for SendMock {
        type Response = ();
        type Error = ();
        type Future = Ready<Result<(), ()>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ()>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: ()) -> Self::Future {
            core::future::ready(Ok(()))
        }
    }
    let mut svc = CircuitBreakerService::new(SendMock, Arc::new(Breaker::new(Config::new(1))));
    let fut = svc.call(());
    assert_send(&svc);
    assert_send(&fut);
}
