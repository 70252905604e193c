//! Time: the core runs on `tripbit::clock` (monotonic nanoseconds); Python
//! sees epoch seconds, anchored once when the module is imported.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// (wall-clock epoch seconds, monotonic ns) read together at import.
static ANCHOR: OnceLock<(f64, u64)> = OnceLock::new();

fn anchor() -> (f64, u64) {
    *ANCHOR.get_or_init(|| {
        let mono = tripbit::clock::now();
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (wall, mono)
    })
}

/// Starts the monotonic clock and fixes the epoch anchor.
pub(crate) fn init() {
    let _ = anchor();
}

/// Monotonic nanoseconds since the anchor (never 0 after the first call, so
/// 0 can mean "never" in the atomics that store times).
#[inline]
pub(crate) fn now() -> u64 {
    tripbit::clock::now()
}

/// Epoch seconds for a monotonic tick.
pub(crate) fn epoch(mono: u64) -> f64 {
    let (wall, at) = anchor();
    // Signed: a tick read before the anchor is a time before it.
    #[allow(clippy::cast_precision_loss)]
    let delta = (mono as f64 - at as f64) / 1e9;
    wall + delta
}

/// Seconds between two monotonic ticks (0 when `later` is earlier).
pub(crate) fn seconds(earlier: u64, later: u64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let s = later.saturating_sub(earlier) as f64 / 1e9;
    s
}
