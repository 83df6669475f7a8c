//! What keys hold at once — supervision watches per token and per address, connections
//! and requests per client address — each counted against its limit, and given back when
//! the holder ends.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::{Arc, Mutex, PoisonError},
};

/// How many of something each key holds now.
pub struct Tally<K> {
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Copy> Tally<K> {
    /// A tally where nobody holds anything.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts one more for each key of `keys`, each `(key, limit)` with 0 for no limit of
    /// its own, unless one of them already holds its limit; that key is the error, and
    /// nothing is counted.
    pub fn hold<const N: usize>(
        self: &Arc<Self>,
        keys: [Option<(K, usize)>; N],
    ) -> Result<Held<K, N>, K> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        for (key, limit) in keys.iter().flatten() {
            if *limit > 0 && open.get(key).copied().unwrap_or(0) >= *limit {
                return Err(*key);
            }
        }
        let held = keys.map(|key| key.map(|(key, _)| key));
        for key in held.iter().flatten() {
            *open.entry(*key).or_default() += 1;
        }
        Ok(Held {
            tally: Arc::clone(self),
            held,
        })
    }

    /// How many `key` holds now.
    pub fn held(&self, key: &K) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(key).copied().unwrap_or(0)
    }
}

/// One holding, counted against its keys until it is dropped.
pub struct Held<K: Hash + Eq + Copy, const N: usize> {
    tally: Arc<Tally<K>>,
    held: [Option<K>; N],
}

impl<K: Hash + Eq + Copy, const N: usize> Drop for Held<K, N> {
    fn drop(&mut self) {
        let mut open = self
            .tally
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for key in self.held.iter().flatten() {
            if let Some(count) = open.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_at_its_limit_refuses_and_nothing_is_counted() {
        let tally = Tally::new();
        let first = tally.hold([Some(('a', 2)), Some(('b', 1))]);
        assert!(first.is_ok());
        // 'b' is full: the refusal names it, and 'a' is not counted for the refused one.
        assert_eq!(
            tally.hold([Some(('a', 2)), Some(('b', 1))]).err(),
            Some('b')
        );
        assert_eq!(tally.held(&'a'), 1);
        let second = tally.hold([Some(('a', 2)), None]);
        assert!(second.is_ok());
        assert_eq!(tally.hold([Some(('a', 2))]).err(), Some('a'));
        drop(first);
        assert_eq!(tally.held(&'a'), 1);
        assert_eq!(tally.held(&'b'), 0);
        drop(second);
        assert_eq!(tally.held(&'a'), 0);
    }

    #[test]
    fn a_zero_limit_counts_without_refusing() {
        let tally = Tally::new();
        let held: Vec<_> = (0..100).map(|_| tally.hold([Some((7u8, 0))])).collect();
        assert!(held.iter().all(Result::is_ok));
        assert_eq!(tally.held(&7), 100);
    }
}
