//! `shared=`: a breaker in a region file, shared by every process of the
//! host (`tripbit-shm`). The core breaker lives in a named slot of the
//! memory-mapped file; this process's `CoreBreaker` drives it with the
//! core's own methods, exactly as a private one. Regions are opened once per
//! process and path (a fork inherits the mapping, which stays shared).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tripbit::Config;
use tripbit_shm::{Region, SharedBreaker};

/// The regions this process opened, by path.
static REGIONS: Mutex<Option<HashMap<PathBuf, Region>>> = Mutex::new(None);

/// The breaker `name` in the region file at `path` (created with the
/// default capacity if missing), bound with `config`.
pub(crate) fn breaker(path: &str, name: &str, config: Config) -> PyResult<SharedBreaker> {
    let region = region(path)?;
    region.breaker(name, config).map_err(|e| value_error(&e))
}

fn region(path: &str) -> PyResult<Region> {
    let key = PathBuf::from(path);
    // A poisoned lock only means a panic elsewhere while it was held; the
    // map itself is always whole.
    let mut guard = REGIONS.lock().unwrap_or_else(|e| e.into_inner());
    let map = guard.get_or_insert_with(HashMap::new);
    if let Some(r) = map.get(&key) {
        return Ok(r.clone());
    }
    let r = Region::options().open(&key).map_err(|e| value_error(&e))?;
    map.insert(key, r.clone());
    Ok(r)
}

/// `ValueError` naming the argument: every message of `tripbit_shm::Error`
/// names the path, and the name where there is one.
fn value_error(e: &tripbit_shm::Error) -> PyErr {
    PyValueError::new_err(format!("shared: {e}"))
}
