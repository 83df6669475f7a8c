//! The time the service reads: the system's, or the system's moved by an offset that
//! tests set, so that they can make a due date pass.

use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, SubsecRound, Utc};

/// Where "now" comes from. Clones share one offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// `None`: the system clock as it is.
    offset: Option<Arc<Mutex<Duration>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock, movable forward with [`Clock::advance`].
    pub fn adjustable() -> Self {
        Self {
            offset: Some(Arc::new(Mutex::new(Duration::zero()))),
        }
    }

    /// The time now, to the microsecond (what both databases keep).
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset.as_ref().map_or_else(Duration::zero, |offset| {
            *offset.lock().unwrap_or_else(PoisonError::into_inner)
        });
        (Utc::now() + offset).trunc_subsecs(6)
    }

    /// Moves an adjustable clock forward by `by`.
    ///
    /// # Panics
    /// On the system clock: moving it is a mistake in the caller.
    pub fn advance(&self, by: Duration) {
        let offset = self
            .offset
            .as_ref()
            .expect("only an adjustable clock can be moved");
        *offset.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_adjustable_clock_moves_when_told_and_clones_share_it() {
        let clock = Clock::adjustable();
        let other = clock.clone();
        let before = clock.now();
        other.advance(Duration::days(2));
        let after = clock.now();
        assert!(after - before >= Duration::days(2), "{before} → {after}");
        assert!(after - before < Duration::days(2) + Duration::minutes(1));
    }

    #[test]
    fn the_system_clock_moves_and_keeps_microseconds() {
        let clock = Clock::system();
        let a = clock.now();
        assert_eq!(a.timestamp_subsec_nanos() % 1000, 0);
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(clock.now() > a);
    }
}
