//! Progress counters a caller may poll to draw a progress bar.
//!
//! The library never prints; it only counts. The counters are relaxed atomics: they are
//! for display, not for synchronisation.

use std::sync::atomic::{AtomicU64, Ordering};

/// Entries seen and content bytes read so far.
#[derive(Debug, Default)]
pub struct Progress {
    entries: AtomicU64,
    bytes: AtomicU64,
}

impl Progress {
    /// Counts one entry.
    pub fn add_entry(&self) {
        self.entries.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts content bytes read.
    pub fn add_bytes(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
    }

    /// Entries seen so far.
    #[must_use]
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// Content bytes read so far.
    #[must_use]
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
}
