// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters: a fixed number of `u64` on every CPU, added to
//! without a shared cache line and summed when read.

use core::ptr::NonNull;
use kernel::prelude::*;

extern "C" {
    fn nvmet_mem_counters_alloc(n: c_uint) -> *mut u64;
    fn nvmet_mem_counters_free(c: *mut u64);
    fn nvmet_mem_counters_add(c: *mut u64, i: c_uint, v: u64);
    fn nvmet_mem_counters_sum(c: *mut u64, i: c_uint) -> u64;
}

/// `N` counters per CPU.
///
/// # Invariants
///
/// `ptr` is a per-CPU allocation of `N` `u64` on every possible CPU,
/// owned by this value and freed when it is dropped.
pub(crate) struct PerCpuCounters<const N: usize> {
    ptr: NonNull<u64>,
}

// SAFETY: the allocation is owned by the value and has no thread affinity.
unsafe impl<const N: usize> Send for PerCpuCounters<N> {}
// SAFETY: `add` changes only the calling CPU's copy with one per-CPU
// operation, which is safe against other CPUs and interrupts; `sum` only
// reads.
unsafe impl<const N: usize> Sync for PerCpuCounters<N> {}

impl<const N: usize> PerCpuCounters<N> {
    /// `N` counters at zero on every CPU.
    pub(crate) fn new() -> Result<Self> {
        let n = c_uint::try_from(N).map_err(|_| EINVAL)?;
        // SAFETY: no preconditions; returns zeroed memory or NULL.
        let ptr = unsafe { nvmet_mem_counters_alloc(n) };
        // INVARIANT: a fresh allocation of `N` counters per CPU.
        NonNull::new(ptr).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    /// Adds `v` to counter `i` of this CPU; any context. `i >= N` is
    /// ignored.
    pub(crate) fn add(&self, i: usize, v: u64) {
        if i < N {
            // SAFETY: a live allocation of `N` counters (type invariant)
            // and `i < N`.
            unsafe { nvmet_mem_counters_add(self.ptr.as_ptr(), i as c_uint, v) };
        }
    }

    /// The sum of counter `i` over all CPUs; 0 for `i >= N`. Adds that
    /// run meanwhile may or may not be counted.
    pub(crate) fn sum(&self, i: usize) -> u64 {
        if i >= N {
            return 0;
        }
        // SAFETY: as in `add`.
        unsafe { nvmet_mem_counters_sum(self.ptr.as_ptr(), i as c_uint) }
    }
}

impl<const N: usize> Drop for PerCpuCounters<N> {
    fn drop(&mut self) {
        // SAFETY: owned (type invariant), freed once.
        unsafe { nvmet_mem_counters_free(self.ptr.as_ptr()) };
    }
}
