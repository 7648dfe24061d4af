// SPDX-License-Identifier: GPL-2.0

use super::HasHrTimer;
use super::HrTimer;
use super::HrTimerCallback;
use super::HrTimerCallbackContext;
use super::HrTimerHandle;
use super::HrTimerMode;
use super::HrTimerPointer;
use super::HrTimerRestart;
use super::RawHrTimerCallback;
use crate::prelude::*;
use core::marker::PhantomData;
use core::ptr::NonNull;

/// A handle for a [`Box<HasHrTimer<T>>`] returned by a call to
/// [`HrTimerPointer::start`].
///
/// # Invariants
///
/// - `self.inner` comes from a `Box::into_raw` call.
pub struct BoxHrTimerHandle<T, A>
where
    T: HasHrTimer<T>,
    A: crate::alloc::Allocator,
{
    pub(crate) inner: NonNull<T>,
    _p: core::marker::PhantomData<A>,
}

// SAFETY: We implement drop below, and we cancel the timer in the drop
// implementation.
unsafe impl<T, A> HrTimerHandle for BoxHrTimerHandle<T, A>
where
    T: HasHrTimer<T>,
    A: crate::alloc::Allocator,
{
    fn cancel(&mut self) -> bool {
        // SAFETY: As we obtained `self.inner` from a valid reference when we
        // created `self`, it must point to a valid `T`.
        let timer_ptr = unsafe { <T as HasHrTimer<T>>::raw_get_timer(self.inner.as_ptr()) };

        // SAFETY: As `timer_ptr` points into `T` and `T` is valid, `timer_ptr`
        // must point to a valid `HrTimer` instance.
        unsafe { HrTimer::<T>::raw_cancel(timer_ptr) }
    }
}

impl<T, A> Drop for BoxHrTimerHandle<T, A>
where
    T: HasHrTimer<T>,
    A: crate::alloc::Allocator,
{
    fn drop(&mut self) {
        self.cancel();
        // SAFETY: By type invariant, `self.inner` came from a `Box::into_raw`
        // call.
        drop(unsafe { Box::<T, A>::from_raw(self.inner.as_ptr()) })
    }
}

impl<T, A> HrTimerPointer for Pin<Box<T, A>>
where
    T: 'static,
    T: Send + Sync,
    T: HasHrTimer<T>,
    T: for<'a> HrTimerCallback<Pointer<'a> = Pin<Box<T, A>>>,
    A: crate::alloc::Allocator,
{
    type TimerMode = <T as HasHrTimer<T>>::TimerMode;
    type TimerHandle = BoxHrTimerHandle<T, A>;

    fn start(
        self,
        expires: <<T as HasHrTimer<T>>::TimerMode as HrTimerMode>::Expires,
    ) -> Self::TimerHandle {
        // SAFETY:
        //  - We will not move out of this box during timer callback (we pass an
        //    immutable reference to the callback).
        //  - `Box::into_raw` is guaranteed to return a valid pointer.
        let inner =
            unsafe { NonNull::new_unchecked(Box::into_raw(Pin::into_inner_unchecked(self))) };

        // SAFETY:
        //  - We keep `self` alive by wrapping it in a handle below.
        //  - Since we generate the pointer passed to `start` from a valid
        //    reference, it is a valid pointer.
        unsafe { T::start(inner.as_ptr(), expires) };

        // INVARIANT: `inner` came from `Box::into_raw` above.
        BoxHrTimerHandle {
            inner,
            _p: core::marker::PhantomData,
        }
    }
}

impl<T, A> RawHrTimerCallback for Pin<Box<T, A>>
where
    T: 'static,
    T: HasHrTimer<T>,
    T: for<'a> HrTimerCallback<Pointer<'a> = Pin<Box<T, A>>>,
    A: crate::alloc::Allocator,
{
    type CallbackTarget<'a> = Pin<&'a mut T>;

    unsafe extern "C" fn run(ptr: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // `HrTimer` is `repr(C)`
        let timer_ptr = ptr.cast::<super::HrTimer<T>>();

        // SAFETY: By C API contract `ptr` is the pointer we passed when
        // queuing the timer, so it is a `HrTimer<T>` embedded in a `T`.
        let data_ptr = unsafe { T::timer_container_of(timer_ptr) };

        // SAFETY:
        //  - As per the safety requirements of the trait `HrTimerHandle`, the
        //   `BoxHrTimerHandle` associated with this timer is guaranteed to
        //   be alive until this method returns. That handle owns the `T`
        //   behind `data_ptr` thus guaranteeing the validity of
        //   the reference created below.
        // - As `data_ptr` comes from a `Pin<Box<T>>`, only pinned references to
        //   `data_ptr` exist.
        let data_mut_ref = unsafe { Pin::new_unchecked(&mut *data_ptr) };

        // SAFETY:
        // - By C API contract `timer_ptr` is the pointer that we passed when queuing the timer, so
        //   it is a valid pointer to a `HrTimer<T>` embedded in a `T`.
        // - We are within `RawHrTimerCallback::run`
        let context = unsafe { HrTimerCallbackContext::from_raw(timer_ptr) };

        T::run(data_mut_ref, context).into_c()
    }
}

/// A timer callback that owns the boxed `Self` it is embedded in: started with
/// [`HrTimerDetachedPointer::start_detached`], which hands the box to the timer and returns no
/// handle, and called once, when the timer expires, with the box, which it may drop.
///
/// This is for work that completes on its own after a delay, like completing an I/O request
/// late, where nobody would keep a handle to cancel it: a [`BoxHrTimerHandle`] would cancel the
/// timer when dropped, and leaking it would leak the box. As nothing can cancel a detached
/// timer, whoever waits for the work it completes waits until it expires.
///
/// The callback runs in the timer's context (hard or soft interrupt, see [`HrTimerMode`]), and
/// so does the drop of `Self` when the callback drops the box: that drop must not sleep. On
/// PREEMPT_RT, freeing memory is not allowed in hard interrupt context: there, a timer in a hard
/// mode must not drop its box from the callback (use a soft mode).
///
/// Nothing can wait for a detached timer. A module that starts them must make sure that each has
/// fired before its exit returns, as the callback is the module's code: the callback signals
/// whatever the module waits for after its last use of the module's state, and does nothing
/// after that but return. That is enough, as a callback runs with interrupts or bottom halves
/// disabled, a read-side critical section of RCU, which `free_module()` waits for.
///
/// # Examples
///
/// ```
/// use kernel::{
///     impl_has_hr_timer,
///     prelude::*,
///     sync::{Arc, Completion},
///     time::{
///         hrtimer::{
///             DetachedHrTimerCallback, HrTimer, HrTimerDetachedPointer, RelativeMode,
///         },
///         Delta, Monotonic,
///     },
/// };
///
/// #[pin_data]
/// struct Alarm {
///     #[pin]
///     timer: HrTimer<Self>,
///     rung: Arc<Completion>,
/// }
///
/// impl_has_hr_timer! {
///     impl HasHrTimer<Self> for Alarm {
///         mode: RelativeMode<Monotonic>,
///         field: self.timer
///     }
/// }
///
/// impl DetachedHrTimerCallback for Alarm {
///     fn run(this: Pin<KBox<Self>>) {
///         this.rung.complete_all();
///         // `this` is dropped here: the timer's memory is freed.
///     }
/// }
///
/// let rung = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
/// let ringer = rung.clone();
/// let alarm = KBox::pin_init(
///     pin_init!(Alarm {
///         timer <- HrTimer::new(),
///         rung: ringer,
///     }),
///     GFP_KERNEL,
/// )?;
/// alarm.start_detached(Delta::from_micros(200));
/// rung.wait_for_completion();
/// # Ok::<(), kernel::error::Error>(())
/// ```
pub trait DetachedHrTimerCallback: HasHrTimer<Self> + Send + Sized + 'static {
    /// Called once, when the timer expires, with the box that
    /// [`HrTimerDetachedPointer::start_detached`] started.
    fn run(this: Pin<KBox<Self>>);
}

/// The pointer type of a timer whose callback owns its box: names the C callback of a
/// [`DetachedHrTimerCallback`]. It is never made.
pub struct DetachedBox<T>(PhantomData<T>, core::convert::Infallible);

impl<T: DetachedHrTimerCallback> RawHrTimerCallback for DetachedBox<T> {
    type CallbackTarget<'a> = Pin<KBox<T>>;

    unsafe extern "C" fn run(ptr: *mut bindings::hrtimer) -> bindings::hrtimer_restart {
        // `HrTimer` is `repr(C)`
        let timer_ptr = ptr.cast::<HrTimer<T>>();

        // SAFETY: By C API contract `ptr` is the pointer we passed when queuing the timer, so it
        // is a `HrTimer<T>` embedded in a `T`.
        let data_ptr = unsafe { T::timer_container_of(timer_ptr) };

        // SAFETY: Only `start_detached` queues the timer of a `T` (`T`'s `HrTimerCallback` is
        // this type's, so no other pointer type can start it), with a pointer from
        // `KBox::into_raw` that it gave up ownership of; the timer has expired, and nothing else
        // has the pointer, so the box is this callback's. It was pinned.
        let this = unsafe { Pin::new_unchecked(KBox::from_raw(data_ptr)) };

        <T as DetachedHrTimerCallback>::run(this);

        // The timer's memory may be gone: only a timer that is not restarted may free itself, and
        // the hrtimer core does not touch a timer after its callback returns `HRTIMER_NORESTART`.
        HrTimerRestart::NoRestart.into_c()
    }
}

impl<T: DetachedHrTimerCallback> HrTimerCallback for T {
    type Pointer<'a> = DetachedBox<T>;

    fn run(this: Pin<KBox<T>>, _ctx: HrTimerCallbackContext<'_, Self>) -> HrTimerRestart {
        <T as DetachedHrTimerCallback>::run(this);
        HrTimerRestart::NoRestart
    }
}

/// Starts the timer of a [`DetachedHrTimerCallback`], handing it the box.
pub trait HrTimerDetachedPointer: Sized {
    /// The operational mode associated with this timer.
    ///
    /// This defines how the expiration value is interpreted.
    type TimerMode: HrTimerMode;

    /// Starts the timer with expiry after `expires` time units. The timer owns the box until its
    /// callback, which gets it back; nothing can cancel it.
    fn start_detached(self, expires: <Self::TimerMode as HrTimerMode>::Expires);
}

impl<T: DetachedHrTimerCallback> HrTimerDetachedPointer for Pin<KBox<T>> {
    type TimerMode = <T as HasHrTimer<T>>::TimerMode;

    fn start_detached(self, expires: <Self::TimerMode as HrTimerMode>::Expires) {
        // SAFETY: The box is given up to the timer below and only its callback takes it back; it
        // is not moved out of, as `DetachedBox::run` pins it again.
        let inner = KBox::into_raw(unsafe { Pin::into_inner_unchecked(self) });

        // SAFETY: `inner` points to a valid `T`, which lives until the callback takes its box
        // back after the timer fired: nothing else frees it, and nothing can cancel the timer.
        // The timer is not queued, as the box was owned here and only the callback of a fired
        // timer gets it (and may start it again).
        unsafe { T::start(inner, expires) };
    }
}
