// SPDX-License-Identifier: GPL-2.0

//! Random numbers from the kernel's cryptographically secure generator.
//!
//! C header: [`include/linux/random.h`](srctree/include/linux/random.h)

use crate::bindings;
use core::num::NonZeroU32;

/// Returns a uniformly distributed random `u32`.
///
/// Equivalent to the C side `get_random_u32()`. May be called from any context.
#[inline]
pub fn get_random_u32() -> u32 {
    // SAFETY: Always safe to call.
    unsafe { bindings::get_random_u32() }
}

/// Returns a uniformly distributed random `u64`.
///
/// Equivalent to the C side `get_random_u64()`. May be called from any context.
#[inline]
pub fn get_random_u64() -> u64 {
    // SAFETY: Always safe to call.
    unsafe { bindings::get_random_u64() }
}

/// Returns a random integer in `[0, ceil)`, with uniform distribution.
///
/// Equivalent to the C side `get_random_u32_below()`: unlike `get_random_u32() % ceil`, it has
/// no modulo bias. May be called from any context.
///
/// # Examples
///
/// ```
/// use core::num::NonZeroU32;
/// use kernel::random::get_random_u32_below;
///
/// let ceil = NonZeroU32::new(6).ok_or(EINVAL)?;
/// for _ in 0..100 {
///     assert!(get_random_u32_below(ceil) < 6);
/// }
/// assert_eq!(get_random_u32_below(NonZeroU32::MIN), 0);
/// # Ok::<(), Error>(())
/// ```
#[inline]
pub fn get_random_u32_below(ceil: NonZeroU32) -> u32 {
    // SAFETY: Always safe to call; `ceil` is not zero, for which the C function's result would
    // not be below it.
    unsafe { bindings::__get_random_u32_below(ceil.get()) }
}
