//! Logging shim: transitions go to `defmt` when that feature is on, and
//! compile to nothing otherwise. This mod is declared first in `lib.rs`.

use crate::types::Transition;

#[cfg(feature = "defmt")]
pub(crate) fn transition(t: &Transition) {
    defmt::info!(
        "tripbit: {} -> {} (generation {}, backoff level {})",
        t.from,
        t.to,
        t.generation,
        t.level
    );
}

#[cfg(not(feature = "defmt"))]
#[inline(always)]
pub(crate) fn transition(_t: &Transition) {}
