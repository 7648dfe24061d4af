// SPDX-License-Identifier: GPL-2.0

//! Per-CPU counters.
//!
//! A per-CPU counter is a 64-bit count that many CPUs add to without sharing a cache line: each
//! CPU adds to a 32-bit count of its own and folds it into the shared count, under the counter's
//! lock, only when it passes a batch. Reading the shared count is cheap and approximate; summing
//! takes the lock and adds every online CPU's count.
//!
//! C header: [`include/linux/percpu_counter.h`](srctree/include/linux/percpu_counter.h)

use crate::{
    alloc::Flags,
    bindings,
    error::to_result,
    prelude::*,
    sync::LockClassKey,
    types::Opaque, //
};
use core::ops::Deref;

/// A per-CPU counter (`struct percpu_counter`).
///
/// Only a reference to one exists, from the [`PercpuCounters`] that owns it.
///
/// Every method may be called in any context but NMI (adding may fold, and summing always does,
/// under a raw spinlock with interrupts disabled), and from any CPU at once.
///
/// # Invariants
///
/// The inner `struct percpu_counter` is initialized, and stays so for as long as a reference to
/// this value exists.
#[repr(transparent)]
pub struct PercpuCounter(Opaque<bindings::percpu_counter>);

// SAFETY: The C functions that this type's methods call serialise on the counter's lock or
// change only the calling CPU's count with a per-CPU operation that is safe against interrupts,
// but for `read()`, a plain load of the shared count that may race a fold and is documented as
// approximate: a counter may be used from any thread.
unsafe impl Sync for PercpuCounter {}

// SAFETY: A counter is not tied to the thread or CPU that initialized it.
unsafe impl Send for PercpuCounter {}

impl PercpuCounter {
    fn as_raw(&self) -> *mut bindings::percpu_counter {
        self.0.get()
    }

    /// Adds `amount` (which may be negative) to this CPU's count, folding it into the shared
    /// count once it passes the system's default batch (`percpu_counter_batch`), so that
    /// [`PercpuCounter::read`] stays within about that batch per CPU of the sum.
    #[inline]
    pub fn add(&self, amount: i64) {
        // SAFETY: The counter is initialized (type invariant).
        unsafe { bindings::percpu_counter_add(self.as_raw(), amount) }
    }

    /// Adds `amount` to this CPU's count, folding it into the shared count only when this CPU's
    /// count would overflow 32 bits: the cheapest add, for a counter that is often added to and
    /// seldom read, and then read with [`PercpuCounter::sum`].
    #[inline]
    pub fn add_local(&self, amount: i64) {
        // SAFETY: The counter is initialized (type invariant).
        unsafe { bindings::percpu_counter_add_local(self.as_raw(), amount) }
    }

    /// The shared count, without what the CPUs have not folded into it yet.
    #[inline]
    pub fn read(&self) -> i64 {
        // SAFETY: The counter is initialized (type invariant).
        unsafe { bindings::percpu_counter_read(self.as_raw()) }
    }

    /// The shared count plus every online CPU's count, under the counter's lock: exact if no add
    /// runs meanwhile. Takes time in the number of CPUs, with interrupts disabled.
    #[inline]
    pub fn sum(&self) -> i64 {
        // SAFETY: The counter is initialized (type invariant).
        unsafe { bindings::percpu_counter_sum(self.as_raw()) }
    }
}

/// `N` per-CPU counters, allocated together (`percpu_counter_init_many()`); they dereference to
/// an array of [`PercpuCounter`].
///
/// # Invariants
///
/// The `N` inner `struct percpu_counter` are initialized, by one call of
/// `percpu_counter_init_many()`, until the value is dropped.
///
/// # Examples
///
/// ```
/// use kernel::percpu_counter::PercpuCounters;
/// use kernel::sync::{static_lock_class, Arc};
///
/// let c = Arc::pin_init(
///     PercpuCounters::<2>::new(5, GFP_KERNEL, static_lock_class!()),
///     GFP_KERNEL,
/// )?;
/// c[0].add(3);
/// c[0].add_local(-1);
/// c[1].add_local(1 << 40);
/// assert_eq!(c[0].sum(), 7);
/// assert_eq!(c[1].sum(), (1 << 40) + 5);
/// assert!(c.get(2).is_none());
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub struct PercpuCounters<const N: usize> {
    #[pin]
    counters: Opaque<[bindings::percpu_counter; N]>,
}

// SAFETY: What a shared reference allows is what `PercpuCounter` allows, which is `Sync`.
unsafe impl<const N: usize> Sync for PercpuCounters<N> {}

// SAFETY: The counters are not tied to a thread or CPU: any thread may destroy them.
unsafe impl<const N: usize> Send for PercpuCounters<N> {}

impl<const N: usize> PercpuCounters<N> {
    /// `N` counters that start at `amount`, their per-CPU counts allocated with `flags`, their
    /// locks in the lockdep class `key`.
    ///
    /// `N` must be between 1 and 8192: the counts of all `N` are one per-CPU allocation, which
    /// the per-CPU allocator limits to 32 KiB.
    pub fn new(
        amount: i64,
        flags: Flags,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self, Error> {
        const_assert!(N > 0 && N <= 8192);
        try_pin_init!(Self {
            counters <- Opaque::try_ffi_init(move |slot: *mut [bindings::percpu_counter; N]| {
                // SAFETY: `slot` is valid for writes of `N` counters and pinned; `key` lives
                // for ever. On failure the C function leaves nothing to undo, and nothing reads
                // the counters.
                to_result(unsafe {
                    bindings::__percpu_counter_init_many(
                        slot.cast(),
                        amount,
                        flags.as_raw(),
                        N as u32,
                        key.as_ptr(),
                    )
                })
            }),
        })
    }
}

impl<const N: usize> Deref for PercpuCounters<N> {
    type Target = [PercpuCounter; N];

    fn deref(&self) -> &[PercpuCounter; N] {
        // The returned borrow of `self` ends before the counters go (type invariant), as the
        // invariant of `PercpuCounter` asks.
        // SAFETY: `PercpuCounter` is a transparent `Opaque<percpu_counter>`, so the arrays have
        // the same layout, and the counters are initialized while `self` is borrowed.
        unsafe { &*self.counters.get().cast::<[PercpuCounter; N]>() }
    }
}

#[pinned_drop]
impl<const N: usize> PinnedDrop for PercpuCounters<N> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The `N` counters were initialized together (type invariant), and no reference
        // to one of them outlives `self`.
        unsafe { bindings::percpu_counter_destroy_many(self.counters.get().cast(), N as u32) };
    }
}
