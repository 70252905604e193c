//! `tripbit-fleet demo` (not built yet).

/// Runs the demo.
pub(crate) fn run(_port: &Option<String>) -> Result<i32, String> {
    Err("the demo is not built yet".into())
}
