//! How long the queue pauses after a failure of the machine (a full disk, the store
//! failing): 1 s, then twice as long after each failure in a row, at most 5 minutes, and
//! back to 1 s once a job ends normally.

use std::time::Duration;

/// The first pause.
pub const FIRST: Duration = Duration::from_secs(1);
/// The longest pause: a disk freed after an hour is used within five minutes.
pub const LONGEST: Duration = Duration::from_secs(300);

/// The pause before the next try: doubles at every [`Backoff::take`], from [`FIRST`] up to
/// [`LONGEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    current: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { current: FIRST }
    }
}

impl Backoff {
    /// The pause the next failure waits, without taking it.
    #[cfg(test)]
    pub fn peek(&self) -> Duration {
        self.current
    }

    /// Takes the pause for a failure now (returned) and doubles the next one, up to
    /// [`LONGEST`].
    pub fn take(&mut self) -> Duration {
        let now = self.current;
        self.current = (self.current * 2).min(LONGEST);
        now
    }

    /// A job ended normally (done, failed on its own input, or stopped): the next failure
    /// waits [`FIRST`] again.
    pub fn reset(&mut self) {
        self.current = FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_doubles_from_one_second_to_five_minutes_and_resets() {
        let mut b = Backoff::default();
        let secs: Vec<u64> = (0..12).map(|_| b.take().as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(b.peek(), LONGEST);
        b.reset();
        assert_eq!(b.peek(), FIRST);
        assert_eq!(b.take(), FIRST);
        assert_eq!(b.peek(), Duration::from_secs(2));
    }
}
