// SPDX-License-Identifier: GPL-2.0

//! RCU support.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)

use crate::{
    alloc::{AllocError, Flags, KBox},
    bindings,
    ffi::c_void,
    types::{ForeignOwnable, NotThreadSafe, Opaque},
};
use core::{marker::PhantomData, mem::ManuallyDrop, ops::Deref, ptr::NonNull};

/// Evidence that the RCU read side lock is held on the current thread/CPU.
///
/// The type is explicitly not `Send` because this property is per-thread/CPU.
///
/// # Invariants
///
/// The RCU read side lock is actually held while instances of this guard exist.
pub struct Guard(NotThreadSafe);

impl Guard {
    /// Acquires the RCU read side lock and returns a guard.
    #[inline]
    pub fn new() -> Self {
        // SAFETY: An FFI call with no additional requirements.
        unsafe { bindings::rcu_read_lock() };
        // INVARIANT: The RCU read side lock was just acquired above.
        Self(NotThreadSafe)
    }

    /// Explicitly releases the RCU read side lock.
    #[inline]
    pub fn unlock(self) {}
}

impl Default for Guard {
    #[inline]
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: By the type invariants, the RCU read side is locked, so it is ok to unlock it.
        unsafe { bindings::rcu_read_unlock() };
    }
}

/// Acquires the RCU read side lock.
#[inline]
pub fn read_lock() -> Guard {
    Guard::new()
}

/// Wait until all in-flight `call_rcu()` callbacks complete.
///
/// Note that this primitive does not necessarily wait for an RCU grace period
/// to complete. For example, if there are no RCU callbacks queued anywhere
/// in the system, then [`rcu_barrier()`] is within its rights to return
/// immediately, without waiting for anything, much less an RCU grace period.
/// In fact, [`rcu_barrier()`] will normally not result in any RCU grace periods
/// beyond those that were already destined to be executed.
///
/// In kernels built with `CONFIG_RCU_LAZY=y`, this function also hurries all
/// pending lazy RCU callbacks.
///
/// Note that this is one of the RCU primitives which must not be called in
/// atomic context.
#[inline]
pub fn rcu_barrier() {
    // SAFETY: `rcu_barrier()` is always safe to be called. It just might wait for a grace period.
    unsafe { bindings::rcu_barrier() };
}

/// Wait for one RCU grace period.
///
/// Waits for all RCU read-side critical sections (such as those established by
/// a [`Guard`]) at the moment of the function call to finish.
///
/// Does not prevent new read-side critical sections from starting, which may
/// begin and run while this call is blocking.
///
/// Note that this is one of the RCU primitives which must not be called in
/// atomic context.
#[inline]
pub fn synchronize_rcu() {
    // SAFETY: `synchronize_rcu()` is always safe to be called from process context.
    unsafe { bindings::synchronize_rcu() };
}

/// Wait for an RCU Tasks grace period.
///
/// Waits until every task that was running kernel code at the moment of the call has switched
/// context voluntarily (being preempted does not count), returned to user space, or exited. This
/// is what code that is about to be freed needs, when a task may still be executing it without
/// holding a lock or a reference that the freeing waits for: a trampoline, or a module function
/// that returns after it dropped the last reference pinning its module. It does not wait for
/// interrupt handlers that run on an idle CPU: [`synchronize_rcu()`] does.
///
/// Without `CONFIG_TASKS_RCU` this is [`synchronize_rcu()`], as in C. That is enough without
/// preemption for code that does not schedule (`cond_resched()` included) between the hand-off
/// and its return, since a task cannot be preempted there; a user that needs the wait on a
/// preemptible kernel selects `NEED_TASKS_RCU` in Kconfig.
///
/// Note that this is one of the RCU primitives which must not be called in atomic context.
#[inline]
pub fn synchronize_rcu_tasks() {
    #[cfg(CONFIG_TASKS_RCU)]
    // SAFETY: `synchronize_rcu_tasks()` is always safe to be called from process context.
    unsafe {
        bindings::synchronize_rcu_tasks()
    };
    #[cfg(not(CONFIG_TASKS_RCU))]
    synchronize_rcu();
}

/// A [`ForeignOwnable`] whose value RCU readers may borrow while it is foreign-owned.
///
/// A data structure that keeps its values in foreign-owned form and frees its own nodes after an
/// RCU grace period (such as the XArray) can then hand a value to readers that hold only the RCU
/// read lock, even while a writer removes and drops it: dropping the value does not free what a
/// borrow references before a grace period has passed.
///
/// This follows the trait of the posting "rust: sync: Introduce Rcu*Box" (Alice Ryhl, Boqun Feng,
/// June 2026).
///
/// # Safety
///
/// Once a value has been foreign-owned, what [`rcu_borrow`](Self::rcu_borrow) references stays
/// valid, and unchanged except through interior mutability, until every RCU read-side critical
/// section that was running when the value was dropped (or passed to
/// [`ForeignOwnable::from_foreign`] and then dropped) has ended. An `RcuBorrowed` may be used
/// from any thread while the value is owned by another: it is [`Send`] and [`Sync`] whenever `Self`
/// is [`Send`].
pub unsafe trait ForeignOwnableRcu: ForeignOwnable {
    /// Type used to borrow a foreign-owned value under the RCU read lock.
    type RcuBorrowed<'a>;

    /// Borrows a foreign-owned value for as long as an RCU read-side critical section lasts.
    ///
    /// # Safety
    ///
    /// `ptr` was returned by [`ForeignOwnable::into_foreign`], and the value was foreign-owned at
    /// some moment of the RCU read-side critical section that `'a` does not outlive (it may have
    /// been passed to [`ForeignOwnable::from_foreign`] since).
    unsafe fn rcu_borrow<'a>(ptr: *mut c_void) -> Self::RcuBorrowed<'a>;
}

/// What an [`RcuBox`] points to: the value and the RCU callback head that frees it.
#[repr(C)]
struct RcuBoxInner<T> {
    rcu: Opaque<bindings::callback_head>,
    value: T,
}

/// An owned, heap-allocated value that is dropped and freed only after an RCU grace period.
///
/// An `RcuBox` is like a [`KBox`] whose value may be shared with RCU readers: dropping the box
/// queues its value with `call_rcu()`, so a reader that found the box (for example in an XArray,
/// with its `load_rcu`) may use the value until its read-side critical section ends. The value is
/// therefore only ever shared: the box gives no mutable access to it.
///
/// The value is dropped from the RCU callback (in softirq context, or in an RCU callback
/// kthread), so its destructor must not sleep, and it must not borrow anything (`T: 'static`): it
/// outlives the box. The callback is code of the crate that dropped the box: a module that drops
/// one must call [`rcu_barrier`] before it is unloaded, as C modules that call `call_rcu()` do.
///
/// This follows the posting "rust: rcu: Add RcuBox type" (Alice Ryhl; in "rust: sync: Introduce
/// Rcu*Box", Boqun Feng, June 2026), for the kmalloc allocator only.
///
/// # Invariants
///
/// `self.0` points to an `RcuBoxInner<T>` allocated as a [`KBox`], which this object owns, and
/// whose callback head is not queued.
///
/// # Examples
///
/// ```
/// use kernel::sync::rcu::{self, RcuBox};
///
/// let b = RcuBox::new(42u64, GFP_KERNEL)?;
/// let guard = rcu::read_lock();
/// let v: &u64 = b.with_rcu(&guard);
/// // Dropping the box frees the value a grace period later, after `guard` is gone.
/// drop(b);
/// assert_eq!(*v, 42);
/// drop(guard);
/// # Ok::<(), kernel::alloc::AllocError>(())
/// ```
pub struct RcuBox<T: Send + 'static>(NonNull<RcuBoxInner<T>>, PhantomData<T>);

// SAFETY: The value may be dropped on another CPU (`T: Send`). A reference from
// [`RcuBox::with_rcu`] may stay on the sending thread while the box moves, so the value is shared
// between the two (`T: Sync`).
unsafe impl<T: Send + Sync + 'static> Send for RcuBox<T> {}

// SAFETY: `&RcuBox<T>` only gives `&T` (`T: Sync`).
unsafe impl<T: Send + Sync + 'static> Sync for RcuBox<T> {}

impl<T: Send + 'static> RcuBox<T> {
    /// Allocates a box holding `value`.
    pub fn new(value: T, flags: Flags) -> Result<Self, AllocError> {
        let inner = KBox::new(
            RcuBoxInner {
                rcu: Opaque::uninit(),
                value,
            },
            flags,
        )?;
        // INVARIANT: a `KBox` allocation, whose ownership passes to the new object.
        Ok(Self(NonNull::from(KBox::leak(inner)), PhantomData))
    }

    /// The value, borrowed for the RCU read-side critical section of `_rcu`, which may outlive the
    /// box: its value is freed only a grace period after the box is dropped.
    #[inline]
    pub fn with_rcu<'a>(&self, _rcu: &'a Guard) -> &'a T {
        // SAFETY: The pointer is valid while the box lives (type invariant), and for a grace period
        // after it is dropped; the RCU read lock, held while `'a` lasts (the guard's invariant),
        // delays the end of that grace period past `'a`.
        unsafe { &(*self.0.as_ptr()).value }
    }
}

impl<T: Send + 'static> Deref for RcuBox<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: The pointer is valid while the box lives (type invariant).
        unsafe { &(*self.0.as_ptr()).value }
    }
}

/// Drops the value and frees the allocation of an [`RcuBox`], a grace period after it was dropped.
///
/// # Safety
///
/// `head` is the callback head of an `RcuBoxInner<T>` that an `RcuBox<T>` owned and has given up
/// to this function, and a grace period has passed since the box was dropped (or added to an
/// [`RcuBoxBatch`]).
unsafe extern "C" fn rcu_box_free<T: Send + 'static>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the `rcu` field of an `RcuBoxInner<T>` (the caller's guarantee);
    // `Opaque<T>` has the layout of `T`.
    let inner = unsafe {
        crate::container_of!(
            head.cast::<Opaque<bindings::callback_head>>(),
            RcuBoxInner<T>,
            rcu
        )
    };
    // SAFETY: `inner` came from `KBox::leak` (the `RcuBox` invariant), and its ownership was
    // handed to this callback (the caller's guarantee); no reader uses it any more, a grace period
    // having passed since.
    drop(unsafe { KBox::from_raw(inner) });
}

impl<T: Send + 'static> Drop for RcuBox<T> {
    fn drop(&mut self) {
        let inner = self.0.as_ptr();
        // SAFETY: `inner` is valid (type invariant), and its callback head is ours to hand over.
        // After a grace period, `rcu_box_free::<T>` gets the ownership that this box had.
        unsafe { bindings::call_rcu((*inner).rcu.get(), Some(rcu_box_free::<T>)) };
    }
}

/// What an [`RcuBoxBatch`] hands to `call_rcu()`: its own callback head, and the boxes it drops.
#[repr(C)]
struct RcuBoxBatchInner<T> {
    rcu: Opaque<bindings::callback_head>,
    /// The callback head of the newest box of the batch; each box's `next` field links the one
    /// added before it, the oldest's is null.
    first: *mut bindings::callback_head,
    _p: PhantomData<T>,
}

/// [`RcuBox`]es dropped together: one `call_rcu()` for all of them, where dropping each box would
/// queue one callback per box.
///
/// A writer that removes many values from an RCU-protected structure at once (a range of an
/// XArray, say) adds their boxes to a batch, which queues them all with one callback when it is
/// dropped or [`queue`](Self::queue)d. Each value is still dropped only a grace period after its
/// box was added, which is after it was removed. The boxes are linked through their own callback
/// heads, unused until queued, so the batch allocates only its own callback head, with the flags
/// given to [`new`](Self::new), when the first box is added: the flags must suit the context
/// [`push`](Self::push) is called from. If that allocation fails, the box is dropped at once, as
/// it would be without a batch.
///
/// The callback drops every value of the batch in one go, in softirq context or in an RCU
/// callback kthread: keep batches to a bounded size (a few hundred values at most) by queueing a
/// batch when it has grown enough. As for [`RcuBox`], the callback is code of the crate that
/// queues the batch: a module that does must call [`rcu_barrier`] before it is unloaded.
///
/// A batch is neither [`Send`] nor [`Sync`]: it belongs to the thread that fills it.
///
/// # Invariants
///
/// If `inner` is `Some`, its `first` chain links the callback heads of `len` `RcuBoxInner<T>`s,
/// at least one, each allocated as a [`KBox`] and owned by this object, and none queued. If
/// `inner` is `None`, `len` is 0.
///
/// # Examples
///
/// ```
/// use kernel::sync::rcu::{RcuBox, RcuBoxBatch};
///
/// let mut batch = RcuBoxBatch::new(GFP_KERNEL);
/// for i in 0..3u64 {
///     batch.push(RcuBox::new(i, GFP_KERNEL)?);
/// }
/// assert_eq!(batch.len(), 3);
/// // Queues the three values with one callback; they are dropped a grace period later.
/// batch.queue();
/// assert!(batch.is_empty());
/// # Ok::<(), kernel::alloc::AllocError>(())
/// ```
pub struct RcuBoxBatch<T: Send + 'static> {
    inner: Option<KBox<RcuBoxBatchInner<T>>>,
    len: usize,
    flags: Flags,
}

impl<T: Send + 'static> RcuBoxBatch<T> {
    /// An empty batch, which allocates with `flags` when a box is added to it.
    #[inline]
    pub fn new(flags: Flags) -> Self {
        // INVARIANT: `inner` is `None` and `len` is 0.
        Self {
            inner: None,
            len: 0,
            flags,
        }
    }

    /// How many boxes the batch holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no box.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `b` to the batch, to be dropped with it; or drops it now if the batch cannot allocate
    /// its callback head. May sleep if the flags given to [`new`](Self::new) allow it.
    pub fn push(&mut self, b: RcuBox<T>) {
        let inner = match &mut self.inner {
            Some(inner) => inner,
            None => {
                let Ok(new) = KBox::new(
                    RcuBoxBatchInner {
                        rcu: Opaque::uninit(),
                        first: core::ptr::null_mut(),
                        _p: PhantomData,
                    },
                    self.flags,
                ) else {
                    drop(b);
                    return;
                };
                self.inner.insert(new)
            }
        };
        let b = ManuallyDrop::new(b);
        // SAFETY: The box is valid, and its callback head is not queued (the `RcuBox`
        // invariant), so its `next` field, a plain pointer, is ours to write; the box is not
        // dropped, so its ownership passes to the batch.
        let head = unsafe {
            let head = (*b.0.as_ptr()).rcu.get();
            (&raw mut (*head).next).write(inner.first);
            head
        };
        inner.first = head;
        // INVARIANT: the box is linked and owned by the batch.
        self.len += 1;
    }

    /// Queues the boxes of the batch with one `call_rcu()`, and leaves the batch empty, for more.
    pub fn queue(&mut self) {
        // INVARIANT: the boxes and `inner` go to the callback; `inner` is `None`.
        self.len = 0;
        let Some(inner) = self.inner.take() else {
            return;
        };
        let inner = KBox::into_raw(inner);
        // SAFETY: `inner` is valid, its callback head is not queued, and it links the boxes the
        // batch owned (type invariant). After a grace period, `rcu_box_batch_free::<T>`, which
        // stays loaded until the module's `rcu_barrier()`, gets their ownership.
        unsafe { bindings::call_rcu((*inner).rcu.get(), Some(rcu_box_batch_free::<T>)) };
    }
}

impl<T: Send + 'static> Drop for RcuBoxBatch<T> {
    fn drop(&mut self) {
        self.queue();
    }
}

/// Drops the values and frees the allocations of an [`RcuBoxBatch`]'s boxes, and its own, a grace
/// period after it was queued.
///
/// # Safety
///
/// `head` is the callback head of an `RcuBoxBatchInner<T>` from `KBox::into_raw`, which an
/// `RcuBoxBatch<T>` owned with the boxes it links and handed to this callback with `call_rcu()`.
unsafe extern "C" fn rcu_box_batch_free<T: Send + 'static>(head: *mut bindings::callback_head) {
    // SAFETY: `head` is the `rcu` field of an `RcuBoxBatchInner<T>` (the caller's guarantee);
    // `Opaque<T>` has the layout of `T`.
    let inner = unsafe {
        crate::container_of!(
            head.cast::<Opaque<bindings::callback_head>>(),
            RcuBoxBatchInner<T>,
            rcu
        )
    };
    // SAFETY: `inner` came from `KBox::into_raw`, and its ownership was handed to this callback
    // (the caller's guarantee).
    let inner = unsafe { KBox::from_raw(inner) };
    let mut next = inner.first;
    while !next.is_null() {
        let head = next;
        // SAFETY: `head` is the callback head of a box of the batch (the `RcuBoxBatch`
        // invariant), valid until it is freed below.
        next = unsafe { (*head).next };
        // SAFETY: The box was owned by the batch and given up to this callback, which runs a
        // grace period after the batch was queued, so after the box was added.
        unsafe { rcu_box_free::<T>(head) };
    }
}

// SAFETY: The pointer comes from `KBox::leak` of an `RcuBoxInner<T>`, aligned as it is, and is
// never null. A `BorrowedMut` gives shared access only, which the value allows while RCU readers
// may hold it.
unsafe impl<T: Send + Sync + 'static> ForeignOwnable for RcuBox<T> {
    const FOREIGN_ALIGN: usize = core::mem::align_of::<RcuBoxInner<T>>();

    type Borrowed<'a> = &'a T;
    type BorrowedMut<'a> = &'a T;

    fn into_foreign(self) -> *mut c_void {
        ManuallyDrop::new(self).0.as_ptr().cast()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: `ptr` came from `into_foreign` (the caller's guarantee), so it is the non-null
        // pointer that a box owned, and its ownership comes back once.
        Self(unsafe { NonNull::new_unchecked(ptr.cast()) }, PhantomData)
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> &'a T {
        // SAFETY: `ptr` came from `into_foreign` and the value is not dropped while `'a` lasts
        // (the caller's guarantee).
        unsafe { &(*ptr.cast::<RcuBoxInner<T>>()).value }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> &'a T {
        // SAFETY: As in `borrow`.
        unsafe { Self::borrow(ptr) }
    }
}

// SAFETY: Dropping an `RcuBox` frees its value only after a grace period (`call_rcu()`), and the
// box never gives mutable access to it.
unsafe impl<T: Send + Sync + 'static> ForeignOwnableRcu for RcuBox<T> {
    type RcuBorrowed<'a> = &'a T;

    unsafe fn rcu_borrow<'a>(ptr: *mut c_void) -> &'a T {
        // SAFETY: `ptr` came from `into_foreign`, and the value was foreign-owned during the
        // read-side critical section that `'a` does not outlive (the caller's guarantee): it is
        // freed at the earliest a grace period after that, so after `'a`.
        unsafe { &(*ptr.cast::<RcuBoxInner<T>>()).value }
    }
}
