// SPDX-License-Identifier: GPL-2.0

//! XArray abstraction.
//!
//! C header: [`include/linux/xarray.h`](srctree/include/linux/xarray.h)

use crate::{
    alloc,
    bindings,
    build_assert::build_assert,
    error::{Error, Result},
    ffi::c_void,
    str::{CStr, CStrExt as _},
    sync::{
        rcu::{self, ForeignOwnableRcu},
        LockClassKey,
    },
    types::{
        ForeignOwnable,
        NotThreadSafe,
        Opaque, //
    }, //
};
use core::{iter, marker::PhantomData, pin::Pin, ptr::NonNull};
use pin_init::{pin_data, pin_init, pinned_drop, PinInit};

/// An array which efficiently maps sparse integer indices to owned objects.
///
/// This is similar to a [`crate::alloc::kvec::Vec<Option<T>>`], but more efficient when there are
/// holes in the index space, and can be efficiently grown.
///
/// # Invariants
///
/// `self.xa` is always an initialized and valid [`bindings::xarray`] whose entries are either
/// `XA_ZERO_ENTRY` or came from `T::into_foreign`.
///
/// # Examples
///
/// ```rust
/// use kernel::alloc::KBox;
/// use kernel::xarray::{AllocKind, XArray};
///
/// let xa = KBox::pin_init(XArray::new(AllocKind::Alloc1), GFP_KERNEL)?;
///
/// let dead = KBox::new(0xdead, GFP_KERNEL)?;
/// let beef = KBox::new(0xbeef, GFP_KERNEL)?;
///
/// let mut guard = xa.lock();
///
/// assert_eq!(guard.get(0), None);
///
/// assert_eq!(guard.store(0, dead, GFP_KERNEL)?.as_deref(), None);
/// assert_eq!(guard.get(0).copied(), Some(0xdead));
///
/// *guard.get_mut(0).unwrap() = 0xffff;
/// assert_eq!(guard.get(0).copied(), Some(0xffff));
///
/// assert_eq!(guard.store(0, beef, GFP_KERNEL)?.as_deref().copied(), Some(0xffff));
/// assert_eq!(guard.get(0).copied(), Some(0xbeef));
///
/// guard.remove(0);
/// assert_eq!(guard.get(0), None);
///
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub struct XArray<T: ForeignOwnable> {
    #[pin]
    xa: Opaque<bindings::xarray>,
    _p: PhantomData<T>,
}

#[pinned_drop]
impl<T: ForeignOwnable> PinnedDrop for XArray<T> {
    fn drop(self: Pin<&mut Self>) {
        self.iter().for_each(|ptr| {
            let ptr = ptr.as_ptr();
            // SAFETY: `ptr` came from `T::into_foreign`.
            //
            // INVARIANT: we own the only reference to the array which is being dropped so the
            // broken invariant is not observable on function exit.
            drop(unsafe { T::from_foreign(ptr) })
        });

        // SAFETY: `self.xa` is always valid by the type invariant.
        unsafe { bindings::xa_destroy(self.xa.get()) };
    }
}

/// Flags passed to [`XArray::new`] to configure the array's allocation tracking behavior.
pub enum AllocKind {
    /// Consider the first element to be at index 0.
    Alloc,
    /// Consider the first element to be at index 1.
    Alloc1,
}

impl<T: ForeignOwnable> XArray<T> {
    /// Creates a new initializer for this type.
    pub fn new(kind: AllocKind) -> impl PinInit<Self> {
        let flags = match kind {
            AllocKind::Alloc => bindings::XA_FLAGS_ALLOC,
            AllocKind::Alloc1 => bindings::XA_FLAGS_ALLOC1,
        };
        pin_init!(Self {
            // SAFETY: `xa` is valid while the closure is called.
            //
            // INVARIANT: `xa` is initialized here to an empty, valid [`bindings::xarray`].
            xa <- Opaque::ffi_init(|xa| unsafe {
                bindings::xa_init_flags(xa, flags)
            }),
            _p: PhantomData,
        })
    }

    /// Creates a new initializer for this type whose lock has a lock class of its own, as a
    /// [`SpinLock`](crate::sync::SpinLock)'s has: lockdep then tells its users apart from those
    /// of other arrays, and `/proc/lock_stat` names it. See [`new_xarray!`](crate::new_xarray).
    pub fn new_with_lock_class(
        kind: AllocKind,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        let flags = match kind {
            AllocKind::Alloc => bindings::XA_FLAGS_ALLOC,
            AllocKind::Alloc1 => bindings::XA_FLAGS_ALLOC1,
        };
        pin_init!(Self {
            // SAFETY: `xa` is valid while the closure is called; its lock, just initialised and
            // not yet used, is initialised again with the class and name given, which are static.
            //
            // INVARIANT: `xa` is initialized here to an empty, valid [`bindings::xarray`].
            xa <- Opaque::ffi_init(|xa: *mut bindings::xarray| unsafe {
                bindings::xa_init_flags(xa, flags);
                let lock = &raw mut (*xa).xa_lock;
                bindings::__spin_lock_init(lock, name.as_char_ptr(), key.as_ptr());
            }),
            _p: PhantomData,
        })
    }

    fn iter(&self) -> impl Iterator<Item = NonNull<c_void>> + '_ {
        let mut index = 0;

        // SAFETY: `self.xa` is always valid by the type invariant.
        iter::once(unsafe {
            bindings::xa_find(self.xa.get(), &mut index, usize::MAX, bindings::XA_PRESENT)
        })
        .chain(iter::from_fn(move || {
            // SAFETY: `self.xa` is always valid by the type invariant.
            Some(unsafe {
                bindings::xa_find_after(self.xa.get(), &mut index, usize::MAX, bindings::XA_PRESENT)
            })
        }))
        .map_while(|ptr| NonNull::new(ptr.cast()))
    }

    /// Provides the element at the given index to a reader that holds only the RCU read lock.
    ///
    /// The XArray frees its nodes after an RCU grace period, and `T` frees its values no sooner
    /// ([`ForeignOwnableRcu`]), so the element may be used until the read-side critical section
    /// ends, even if a writer removes it from the array and drops it meanwhile.
    ///
    /// This follows `MapleTree::load_rcu` of the posting "rust: sync: Introduce Rcu*Box" (Alice
    /// Ryhl, Boqun Feng, June 2026); unlike a maple tree, an XArray is always safe to read under
    /// RCU.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::sync::rcu::{self, RcuBox};
    /// use kernel::xarray::{AllocKind, XArray};
    ///
    /// let xa = KBox::pin_init(XArray::new(AllocKind::Alloc), GFP_KERNEL)?;
    /// let seven = RcuBox::new(7u32, GFP_KERNEL)?;
    /// xa.lock().store(3, seven, GFP_KERNEL)?;
    ///
    /// let guard = rcu::read_lock();
    /// let v = xa.load_rcu(3, &guard).unwrap();
    /// // Removed and dropped, but freed only after a grace period.
    /// drop(xa.lock().remove(3));
    /// assert_eq!(*v, 7);
    /// assert!(xa.load_rcu(3, &guard).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn load_rcu<'rcu>(
        &self,
        index: usize,
        _rcu: &'rcu rcu::Guard,
    ) -> Option<T::RcuBorrowed<'rcu>>
    where
        T: ForeignOwnableRcu,
    {
        // SAFETY: `self.xa` is always valid by the type invariant. `xa_load()` takes no lock, and
        // presents `XA_ZERO_ENTRY` as NULL.
        let ptr = unsafe { bindings::xa_load(self.xa.get(), index) };
        let ptr = NonNull::new(ptr)?;
        // SAFETY: `ptr` came from `T::into_foreign` (type invariant), and the value was in the
        // array, foreign-owned, in the read-side critical section of `_rcu`, which `'rcu` does not
        // outlive (the guard's invariant).
        Some(unsafe { T::rcu_borrow(ptr.as_ptr()) })
    }

    /// Walks the array from `index` on, for a reader that holds only the RCU read lock.
    ///
    /// The walk yields, for `index` and each index after it in turn, the element there as
    /// [`XArray::load_rcu`] would (`None` for an empty slot), for as long as `load_rcu`'s would
    /// live. It descends the tree once and then moves from slot to slot, as C's `xas_next()` does,
    /// so looking up a run of consecutive indexes costs much less than a `load_rcu` for each.
    /// A writer that changes the array meanwhile is seen or not, slot by slot.
    ///
    /// This follows `XArrayState` of the XArray entry API series (Andreas Hindborg, 2026), which
    /// wraps the same `struct xa_state` for holders of the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::sync::rcu::{self, RcuBox};
    /// use kernel::xarray::{AllocKind, XArray};
    ///
    /// let xa = KBox::pin_init(XArray::new(AllocKind::Alloc), GFP_KERNEL)?;
    /// // Across the end of a node's slots (64 of them, or 16 with `CONFIG_BASE_SMALL`).
    /// for i in [62usize, 63, 64, 66] {
    ///     let value = RcuBox::new(i, GFP_KERNEL)?;
    ///     xa.lock().store(i, value, GFP_KERNEL)?;
    /// }
    ///
    /// let guard = rcu::read_lock();
    /// let found = xa.slots_rcu(61, &guard).take(7).map(|v| v.copied());
    /// assert!(found.eq([None, Some(62), Some(63), Some(64), None, Some(66), None]));
    ///
    /// // The last index ends the walk.
    /// assert_eq!(xa.slots_rcu(usize::MAX - 1, &guard).count(), 2);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn slots_rcu<'a, 'rcu>(
        &'a self,
        index: usize,
        _rcu: &'rcu rcu::Guard,
    ) -> RcuSlots<'a, 'rcu, T>
    where
        T: ForeignOwnableRcu,
    {
        let mut state = bindings::xa_state {
            xa: self.xa.get(),
            xa_index: index,
            ..pin_init::zeroed()
        };
        // SAFETY: `state` is valid for the call. `xas_reset()` sets what `XA_STATE()` sets that the
        // zeroed state lacks: a walk that starts from the top of the tree.
        unsafe { bindings::xas_reset(&mut state) };
        // INVARIANT: `state` is `XA_STATE(state, self.xa, index)`, for the array that `'a` borrows,
        // and the walk borrows the RCU read guard `_rcu` for `'rcu`.
        RcuSlots {
            state,
            done: false,
            _not_send: NotThreadSafe,
            _p: PhantomData,
        }
    }

    /// Returns the first index at or after `index` that holds an element, without taking the
    /// lock.
    ///
    /// The array may change meanwhile: the index held an element at some moment during the call.
    /// It visits only the parts of the array that hold elements, so it is cheap on a sparse one.
    ///
    /// This follows `Guard::find_next` of the XArray entry API series (Andreas Hindborg, 2026),
    /// for the index alone and without the lock, as C callers of `xa_find()` search.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::xarray::{AllocKind, XArray};
    ///
    /// let xa = KBox::pin_init(XArray::new(AllocKind::Alloc), GFP_KERNEL)?;
    /// let two = KBox::new(2u32, GFP_KERNEL)?;
    /// xa.lock().store(1 << 40, two, GFP_KERNEL)?;
    /// assert_eq!(xa.find_next_index(0), Some(1 << 40));
    /// assert_eq!(xa.find_next_index((1 << 40) + 1), None);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn find_next_index(&self, index: usize) -> Option<usize> {
        let mut index = index;
        // SAFETY: `self.xa` is always valid by the type invariant; `index` is valid for the call.
        // `xa_find()` takes the RCU read lock itself. The entry is not dereferenced.
        let ptr = unsafe {
            bindings::xa_find(self.xa.get(), &mut index, usize::MAX, bindings::XA_PRESENT)
        };
        (!ptr.is_null()).then_some(index)
    }

    /// Attempts to lock the [`XArray`] for exclusive access.
    pub fn try_lock(&self) -> Option<Guard<'_, T>> {
        // SAFETY: `self.xa` is always valid by the type invariant.
        if (unsafe { bindings::xa_trylock(self.xa.get()) } != 0) {
            Some(Guard {
                xa: self,
                _not_send: NotThreadSafe,
            })
        } else {
            None
        }
    }

    /// Locks the [`XArray`] for exclusive access.
    pub fn lock(&self) -> Guard<'_, T> {
        // SAFETY: `self.xa` is always valid by the type invariant.
        unsafe { bindings::xa_lock(self.xa.get()) };

        Guard {
            xa: self,
            _not_send: NotThreadSafe,
        }
    }
}

/// A walk of an [`XArray`] under the RCU read lock, one index after another; see
/// [`XArray::slots_rcu`]. It stays on the thread whose read-side critical section it walks in.
///
/// # Invariants
///
/// `state` is an XArray operation state for the array that `'a` borrows, as `XA_STATE()`
/// initialises one or as `xas_next()` leaves it, and it is used only while the RCU read-side
/// critical section that `'rcu` borrows lasts.
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct RcuSlots<'a, 'rcu, T: ForeignOwnableRcu> {
    state: bindings::xa_state,
    done: bool,
    _not_send: NotThreadSafe,
    _p: PhantomData<(&'a XArray<T>, &'rcu rcu::Guard)>,
}

impl<'a, 'rcu, T: ForeignOwnableRcu> RcuSlots<'a, 'rcu, T> {
    /// The element that the walk found as `ptr`, after a walk again from the top if a writer had
    /// moved the node it was in.
    #[inline]
    fn element(&mut self, mut ptr: *mut c_void) -> Option<T::RcuBorrowed<'rcu>> {
        // SAFETY: `xa_is_retry()` only compares the value.
        while unsafe { bindings::xa_is_retry(ptr) } {
            // SAFETY: `self.state` is valid and the array it points to is alive, since `self`
            // borrows it for `'a`; the RCU read lock is held, since `self` borrows the guard for
            // `'rcu` (type invariant). That is what `xas_next()` requires of a caller without the
            // lock. From a reset state it loads the same index again.
            ptr = unsafe {
                bindings::xas_reset(&mut self.state);
                bindings::xas_next(&mut self.state)
            };
        }
        // SAFETY: `xa_is_zero()` only compares the value.
        if unsafe { bindings::xa_is_zero(ptr) } {
            return None;
        }
        let ptr = NonNull::new(ptr)?;
        // SAFETY: `xas_next()` descends to the leaves, so it returns no node entry; the array
        // holds no multi-index entry (this abstraction stores at single indexes only), so it
        // returns no sibling entry either; retry and zero entries were handled above. So `ptr`
        // came from `T::into_foreign` (type invariant of `XArray`), and the value was in the
        // array, foreign-owned, in the read-side critical section of `'rcu`, which the borrow
        // does not outlive.
        Some(unsafe { T::rcu_borrow(ptr.as_ptr()) })
    }
}

impl<'a, 'rcu, T: ForeignOwnableRcu> core::iter::FusedIterator for RcuSlots<'a, 'rcu, T> {}

impl<'a, 'rcu, T: ForeignOwnableRcu> Iterator for RcuSlots<'a, 'rcu, T> {
    type Item = Option<T::RcuBorrowed<'rcu>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        // SAFETY: as in `element()`. From the state that `XA_STATE()` sets, `xas_next()` loads
        // the first index; from then on, the next one.
        let ptr = unsafe { bindings::xas_next(&mut self.state) };
        let element = self.element(ptr);
        self.done = self.state.xa_index == usize::MAX;
        Some(element)
    }
}

/// A lock guard.
///
/// The lock is unlocked when the guard goes out of scope.
#[must_use = "the lock unlocks immediately when the guard is unused"]
pub struct Guard<'a, T: ForeignOwnable> {
    xa: &'a XArray<T>,
    _not_send: NotThreadSafe,
}

impl<T: ForeignOwnable> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // SAFETY:
        // - `self.xa.xa` is always valid by the type invariant.
        // - The caller holds the lock, so it is safe to unlock it.
        unsafe { bindings::xa_unlock(self.xa.xa.get()) };
    }
}

/// The error returned by [`store`](Guard::store).
///
/// Contains the underlying error and the value that was not stored.
pub struct StoreError<T> {
    /// The error that occurred.
    pub error: Error,
    /// The value that was not stored.
    pub value: T,
}

impl<T> From<StoreError<T>> for Error {
    #[inline]
    fn from(value: StoreError<T>) -> Self {
        value.error
    }
}

impl<'a, T: ForeignOwnable> Guard<'a, T> {
    fn load<F, U>(&self, index: usize, f: F) -> Option<U>
    where
        F: FnOnce(NonNull<c_void>) -> U,
    {
        // SAFETY: `self.xa.xa` is always valid by the type invariant.
        let ptr = unsafe { bindings::xa_load(self.xa.xa.get(), index) };
        let ptr = NonNull::new(ptr.cast())?;
        Some(f(ptr))
    }

    /// Provides a reference to the element at the given index.
    pub fn get(&self, index: usize) -> Option<T::Borrowed<'_>> {
        self.load(index, |ptr| {
            // SAFETY: `ptr` came from `T::into_foreign`.
            unsafe { T::borrow(ptr.as_ptr()) }
        })
    }

    /// Provides a mutable reference to the element at the given index.
    pub fn get_mut(&mut self, index: usize) -> Option<T::BorrowedMut<'_>> {
        self.load(index, |ptr| {
            // SAFETY: `ptr` came from `T::into_foreign`.
            unsafe { T::borrow_mut(ptr.as_ptr()) }
        })
    }

    /// Stores an element at the given index if no element is there.
    ///
    /// May drop the lock if needed to allocate memory, and then reacquire it afterwards.
    ///
    /// On failure, returns the element which was attempted to be stored, with [`EBUSY`] if the
    /// index holds an element.
    ///
    /// This follows the posting "rust: xarray: add `insert` and `reserve`" (Tamir Duberstein,
    /// v2, July 2025), without its reservations.
    ///
    /// [`EBUSY`]: crate::error::code::EBUSY
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::xarray::{AllocKind, XArray};
    ///
    /// let xa = KBox::pin_init(XArray::new(AllocKind::Alloc), GFP_KERNEL)?;
    /// let (one, two) = (KBox::new(1u32, GFP_KERNEL)?, KBox::new(2u32, GFP_KERNEL)?);
    /// let mut guard = xa.lock();
    /// assert!(guard.insert(0, one, GFP_KERNEL).is_ok());
    /// let err = guard.insert(0, two, GFP_KERNEL).unwrap_err();
    /// assert_eq!((err.error, *err.value), (EBUSY, 2));
    /// assert_eq!(guard.get(0).copied(), Some(1));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn insert(
        &mut self,
        index: usize,
        value: T,
        gfp: alloc::Flags,
    ) -> Result<(), StoreError<T>> {
        build_assert!(
            T::FOREIGN_ALIGN >= 4,
            "pointers stored in XArray must be 4-byte aligned"
        );
        let new = value.into_foreign();
        // SAFETY:
        // - `self.xa.xa` is always valid by the type invariant.
        // - The caller holds the lock. `__xa_insert` may drop it to allocate and takes it again
        //   before it returns, so it is held when the guard is dropped.
        //
        // INVARIANT: `new` came from `T::into_foreign`.
        let errno = unsafe { bindings::__xa_insert(self.xa.xa.get(), index, new, gfp.as_raw()) };
        if errno == 0 {
            return Ok(());
        }
        // SAFETY: `new` came from `T::into_foreign` and `__xa_insert` does not take ownership of
        // the value on error.
        let value = unsafe { T::from_foreign(new) };
        Err(StoreError {
            value,
            error: Error::from_errno(errno),
        })
    }

    /// Removes and returns the element at the given index.
    pub fn remove(&mut self, index: usize) -> Option<T> {
        // SAFETY:
        // - `self.xa.xa` is always valid by the type invariant.
        // - The caller holds the lock.
        let ptr = unsafe { bindings::__xa_erase(self.xa.xa.get(), index) }.cast();
        // SAFETY:
        // - `ptr` is either NULL or came from `T::into_foreign`.
        // - `&mut self` guarantees that the lifetimes of [`T::Borrowed`] and [`T::BorrowedMut`]
        // borrowed from `self` have ended.
        unsafe { T::try_from_foreign(ptr) }
    }

    /// Stores an element at the given index.
    ///
    /// May drop the lock if needed to allocate memory, and then reacquire it afterwards.
    ///
    /// On success, returns the element which was previously at the given index.
    ///
    /// On failure, returns the element which was attempted to be stored.
    pub fn store(
        &mut self,
        index: usize,
        value: T,
        gfp: alloc::Flags,
    ) -> Result<Option<T>, StoreError<T>> {
        build_assert!(
            T::FOREIGN_ALIGN >= 4,
            "pointers stored in XArray must be 4-byte aligned"
        );
        let new = value.into_foreign();

        let old = {
            let new = new.cast();
            // SAFETY:
            // - `self.xa.xa` is always valid by the type invariant.
            // - The caller holds the lock.
            //
            // INVARIANT: `new` came from `T::into_foreign`.
            unsafe { bindings::__xa_store(self.xa.xa.get(), index, new, gfp.as_raw()) }
        };

        // SAFETY: `__xa_store` returns the old entry at this index on success or `xa_err` if an
        // error happened.
        let errno = unsafe { bindings::xa_err(old) };
        if errno != 0 {
            // SAFETY: `new` came from `T::into_foreign` and `__xa_store` does not take
            // ownership of the value on error.
            let value = unsafe { T::from_foreign(new) };
            Err(StoreError {
                value,
                error: Error::from_errno(errno),
            })
        } else {
            let old = old.cast();
            // SAFETY: `ptr` is either NULL or came from `T::into_foreign`.
            //
            // NB: `XA_ZERO_ENTRY` is never returned by functions belonging to the Normal XArray
            // API; such entries present as `NULL`.
            Ok(unsafe { T::try_from_foreign(old) })
        }
    }
}

// SAFETY: `XArray<T>` has no shared mutable state so it is `Send` iff `T` is `Send`.
unsafe impl<T: ForeignOwnable + Send> Send for XArray<T> {}

// SAFETY: `XArray<T>` serialises the interior mutability it provides so it is `Sync` iff `T` is
// `Send`.
unsafe impl<T: ForeignOwnable + Send> Sync for XArray<T> {}

/// Creates an [`XArray`] initializer whose lock has a lock class of its own, named by the string
/// given or else by the place of the call.
///
/// # Examples
///
/// ```
/// use kernel::new_xarray;
/// use kernel::xarray::{AllocKind, XArray};
///
/// let xa: Pin<KBox<XArray<KBox<u32>>>> =
///     KBox::pin_init(new_xarray!(AllocKind::Alloc, "my_pages"), GFP_KERNEL)?;
/// assert!(xa.lock().get(0).is_none());
/// # Ok::<(), Error>(())
/// ```
#[macro_export]
macro_rules! new_xarray {
    ($kind:expr $(, $name:literal)? $(,)?) => {
        $crate::xarray::XArray::new_with_lock_class(
            $kind, $crate::optional_name!($($name)?), $crate::static_lock_class!())
    };
}
