// SPDX-License-Identifier: GPL-2.0

//! Rate limiting of events, most often log messages.
//!
//! C header: [`include/linux/ratelimit.h`](srctree/include/linux/ratelimit.h)

use crate::{bindings, prelude::*, str::CStr, types::Opaque};

/// A limit on how often an event may happen, most often a log message that a caller outside the
/// kernel's control (a user, a device, a remote host) can trigger at will.
///
/// The limit is the kernel's default: at most `DEFAULT_RATELIMIT_BURST` (10) events in each
/// `DEFAULT_RATELIMIT_INTERVAL` (5 seconds), as `__ratelimit()` decides. Once an interval in which
/// events were refused has expired, the next call logs how many were
/// (`"<name>: <n> callbacks suppressed"`). It is what
/// C's `pr_err_ratelimited()` keeps per call site, as an object that the caller places (in the
/// data of a driver, say) and initialises in place.
///
/// The state's lock has one lockdep class for every `RateLimit`. `__ratelimit()` takes it only with
/// a trylock, so a caller never waits on it; the suppressed-count line is printed with
/// `printk_deferred()` while it is held.
///
/// # Invariants
///
/// `state` is a `struct ratelimit_state` initialised by `ratelimit_state_init()`.
///
/// # Examples
///
/// ```
/// use kernel::ratelimit::RateLimit;
///
/// let limit = KBox::pin_init(RateLimit::new(), GFP_KERNEL)?;
/// // Far less than the interval passes: 10 events are allowed, the rest refused.
/// let allowed = (0..25).filter(|_| limit.allow(c"example")).count();
/// assert_eq!(allowed, 10);
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct RateLimit {
    #[pin]
    state: Opaque<bindings::ratelimit_state>,
}

// SAFETY: A `struct ratelimit_state` has no thread affinity: it holds no reference to a task, a CPU
// or memory of its own, and needs no destructor, so it may be owned by and dropped on any thread.
unsafe impl Send for RateLimit {}

// SAFETY: A shared `RateLimit` is only passed to `__ratelimit()`, which may be called on one state
// from any thread concurrently: it serialises on the state's lock, or, if that lock is contended,
// decides with the state's atomic counters alone.
unsafe impl Sync for RateLimit {}

impl RateLimit {
    /// A limit of the kernel's default burst and interval.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // INVARIANT: initialised by `ratelimit_default_init()`.
            // SAFETY: `slot` is valid for writes, and `ratelimit_default_init()` initialises every
            // field of the state it points to.
            state <- Opaque::ffi_init(|slot| unsafe { bindings::ratelimit_default_init(slot) }),
        })
    }

    /// Whether the event may happen now; counts it as refused if not. `name` names the events in
    /// the line that reports how many were refused. May be called from any context.
    #[inline]
    pub fn allow(&self, name: &CStr) -> bool {
        // SAFETY: `state` is initialised (type invariant) and valid while `self` is borrowed;
        // `name` is a NUL-terminated string that `__ratelimit()` reads only during the call.
        unsafe { bindings::___ratelimit(self.state.get(), name.as_char_ptr()) != 0 }
    }
}
