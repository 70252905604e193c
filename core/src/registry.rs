//! `Registry<N>`: a fixed-capacity set of named breakers, looked up by a
//! dotted key such as `"company.product.service"`, without allocation.

use heapless::{String, Vec};

use crate::breaker::Breaker;
use crate::config::{Config, ConfigError};
use crate::policy::{Consecutive, Policy};

/// Longest key, in bytes.
pub const MAX_KEY_LEN: usize = 64;

/// Why a breaker could not be registered.
///
/// ```
/// use tripbit::{Config, Registry, RegistryError};
/// let mut r: Registry<1> = Registry::new();
/// r.insert("acme.maps.geocode", Config::new(10)).unwrap();
/// assert_eq!(r.insert("acme.maps.tiles", Config::new(10)).unwrap_err(), RegistryError::Full);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RegistryError {
    /// All `N` slots are taken.
    Full,
    /// The key is longer than [`MAX_KEY_LEN`] bytes.
    KeyTooLong,
    /// The key is empty, or not dot-separated segments of ASCII letters,
    /// digits, `_` and `-`.
    InvalidKey,
    /// A breaker with this key is already registered.
    Duplicate,
    /// The config was refused.
    Config(ConfigError),
}

impl core::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegistryError::Full => f.write_str("registry is full"),
            RegistryError::KeyTooLong => write!(f, "key is longer than {MAX_KEY_LEN} bytes"),
            RegistryError::InvalidKey => f.write_str(
                "key must be dot-separated segments of ASCII letters, digits, '_' and '-'",
            ),
            RegistryError::Duplicate => f.write_str("key is already registered"),
            RegistryError::Config(e) => write!(f, "invalid config: {e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RegistryError {}

impl From<ConfigError> for RegistryError {
    fn from(e: ConfigError) -> Self {
        RegistryError::Config(e)
    }
}

/// Checks a dotted key: 1..=64 bytes of dot-separated, non-empty segments of
/// ASCII letters, digits, `_` and `-`.
///
/// ```
/// use tripbit::{validate_key, RegistryError};
/// assert_eq!(validate_key("acme.nlp.hotels"), Ok(()));
/// assert_eq!(validate_key("acme..hotels"), Err(RegistryError::InvalidKey));
/// assert_eq!(validate_key(&"a".repeat(65)), Err(RegistryError::KeyTooLong));
/// ```
pub fn validate_key(key: &str) -> Result<(), RegistryError> {
    if key.len() > MAX_KEY_LEN {
        return Err(RegistryError::KeyTooLong);
    }
    let ok = !key.is_empty()
        && key.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(RegistryError::InvalidKey)
    }
}

/// A fixed-capacity set of up to `N` named breakers of policy `P`. Built once
/// (`insert` takes `&mut self`), then shared: lookups take `&self`.
///
/// ```
/// use tripbit::{Config, Registry};
/// let mut fleet: Registry<4> = Registry::new();
/// fleet.insert("acme.nlp.hotels", Config::new(1_000).consecutive_failures(3)).unwrap();
/// let b = fleet.get("acme.nlp.hotels").unwrap();
/// assert!(b.try_acquire(0).is_ok());
/// assert!(fleet.get("acme.nlp.flights").is_none());
/// ```
pub struct Registry<const N: usize, P: Policy = Consecutive> {
    entries: Vec<(String<MAX_KEY_LEN>, Breaker<P>), N>,
}

impl<const N: usize, P: Policy> Default for Registry<N, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, P: Policy> core::fmt::Debug for Registry<N, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<const N: usize, P: Policy> Registry<N, P> {
    /// An empty registry.
    ///
    /// ```
    /// let r: tripbit::Registry<8> = tripbit::Registry::new();
    /// assert!(r.is_empty());
    /// ```
    pub const fn new() -> Self {
        Registry {
            entries: Vec::new(),
        }
    }

    /// Adds a breaker under `key` and returns it.
    ///
    /// ```
    /// use tripbit::{Config, Registry, RegistryError};
    /// let mut r: Registry<2> = Registry::new();
    /// assert!(r.insert("acme.pay", Config::new(10)).is_ok());
    /// assert_eq!(r.insert("acme.pay", Config::new(10)).unwrap_err(), RegistryError::Duplicate);
    /// assert_eq!(r.insert("acme.x", Config::new(0)).unwrap_err().to_string(),
    ///            "invalid config: open_ticks must be at least 1");
    /// ```
    pub fn insert(&mut self, key: &str, config: Config) -> Result<&Breaker<P>, RegistryError> {
        validate_key(key)?;
        if self.get(key).is_some() {
            return Err(RegistryError::Duplicate);
        }
        if self.entries.is_full() {
            return Err(RegistryError::Full);
        }
        let breaker = Breaker::<P>::try_from_config(config)?;
        let mut name = String::new();
        name.push_str(key).map_err(|()| RegistryError::KeyTooLong)?;
        self.entries
            .push((name, breaker))
            .map_err(|_| RegistryError::Full)?;
        let last = self.entries.len() - 1;
        Ok(&self.entries[last].1)
    }

    /// The breaker registered under `key`.
    ///
    /// ```
    /// let mut r: tripbit::Registry<2> = tripbit::Registry::new();
    /// r.insert("a.b", tripbit::Config::new(1)).unwrap();
    /// assert!(r.get("a.b").is_some());
    /// ```
    pub fn get(&self, key: &str) -> Option<&Breaker<P>> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_str() == key)
            .map(|(_, b)| b)
    }

    /// Every `(key, breaker)`, in insertion order.
    ///
    /// ```
    /// let mut r: tripbit::Registry<2> = tripbit::Registry::new();
    /// r.insert("a.b", tripbit::Config::new(1)).unwrap();
    /// assert_eq!(r.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["a.b"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Breaker<P>)> {
        self.entries.iter().map(|(k, b)| (k.as_str(), b))
    }

    /// Breakers registered.
    ///
    /// ```
    /// assert_eq!(tripbit::Registry::<2>::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none is registered.
    ///
    /// ```
    /// assert!(tripbit::Registry::<2>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
