//! The memory ceiling as a type: a byte budget that every large buffer is reserved from and
//! given back to. A reservation that does not fit fails; it never waits and never
//! over-commits, so "over budget" is an error at the point of asking, not a surprise in RSS.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// A fixed number of bytes shared by everything that holds large buffers. Cloning shares the
/// same budget (it is an `Arc`), so threads reserve from one count.
///
/// ```
/// use hapflow::testing::Budget; // the crate-internal `budget::Budget`
///
/// let budget = Budget::new(1 << 20);
/// let chunk = budget.reserve(768 << 10, "the chunk buffers").unwrap();
/// assert!(budget.reserve(512 << 10, "the output buffers").is_err());
/// drop(chunk);
/// assert_eq!(budget.available(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    total: usize,
    used: AtomicUsize,
}

/// Bytes held from a [`Budget`]; they go back when the grant is dropped.
#[derive(Debug)]
pub struct Grant {
    budget: Budget,
    bytes: usize,
}

impl Budget {
    /// A budget of `total` bytes, none of them reserved.
    pub fn new(total: usize) -> Budget {
        Budget {
            inner: Arc::new(Inner {
                total,
                used: AtomicUsize::new(0),
            }),
        }
    }

    /// The budget's size, in bytes.
    pub fn total(&self) -> usize {
        self.inner.total
    }

    /// Bytes held by grants now.
    pub fn used(&self) -> usize {
        self.inner.used.load(Ordering::Acquire)
    }

    /// Bytes that can still be reserved: [`total`](Self::total) minus [`used`](Self::used).
    pub fn available(&self) -> usize {
        self.total() - self.used()
    }

    /// Takes `bytes` from the budget for `what` (a buffer named as in messages: `"the
    /// decompressor"`); they go back when the [`Grant`] is dropped.
    ///
    /// # Errors
    ///
    /// A configuration error ([`ErrorKind::Config`](crate::ErrorKind::Config), exit code 2)
    /// when the bytes are not left: `memory limit too small: {what} needs ..., ... of ...
    /// are left`. It never waits for other grants to go back.
    pub fn reserve(&self, bytes: usize, what: &str) -> Result<Grant> {
        self.try_reserve(bytes).ok_or_else(|| {
            Error::config(format!(
                "memory limit too small: {what} needs {} more, {} of {} are left",
                crate::config::size::format_size(bytes as u64),
                crate::config::size::format_size(self.available() as u64),
                crate::config::size::format_size(self.total() as u64),
            ))
        })
    }

    /// Takes `bytes` from the budget if they are there; `None` if not (nothing is taken).
    pub fn try_reserve(&self, bytes: usize) -> Option<Grant> {
        let mut used = self.inner.used.load(Ordering::Acquire);
        loop {
            let next = used.checked_add(bytes).filter(|&n| n <= self.inner.total)?;
            match self.inner.used.compare_exchange_weak(
                used,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(Grant {
                        budget: self.clone(),
                        bytes,
                    })
                }
                Err(now) => used = now,
            }
        }
    }
}

impl Grant {
    /// Bytes this grant holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Grows this grant by `bytes`, if the budget has them; false (and no change) if not.
    pub fn try_grow(&mut self, bytes: usize) -> bool {
        match self.budget.try_reserve(bytes) {
            Some(more) => {
                self.bytes += more.bytes;
                std::mem::forget(more);
                true
            }
            None => false,
        }
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.budget
            .inner
            .used
            .fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_beyond_the_total_fail_and_drops_give_back() {
        let b = Budget::new(100);
        let a = b.reserve(60, "a").unwrap();
        assert!(b.try_reserve(41).is_none());
        let err = b.reserve(41, "the second buffer").unwrap_err().to_string();
        assert!(err.contains("the second buffer"), "{err}");
        let mut c = b.reserve(40, "c").unwrap();
        assert_eq!(b.available(), 0);
        drop(a);
        assert_eq!(b.available(), 60);
        assert!(c.try_grow(60));
        assert!(!c.try_grow(1));
        drop(c);
        assert_eq!(b.used(), 0);
    }
}
