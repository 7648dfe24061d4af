// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer between nvmet and the safe backend logic.
//!
//! This module, its children and `nvmet_mem_glue.c` are the only places
//! that deal with raw pointers, together with the entry points in
//! [`crate::entry`] that wrap nvmet's raw arguments in the handles defined
//! here. nvmet's structures, its exported functions and the C glue's
//! functions come from bindgen (rust/bindings/bindings_helper.h includes
//! nvmet.h and `nvmet_mem_glue.h`), so no layout or prototype is written
//! down by hand. Nothing here imports from the logic above it.
//!
//! - [`nvmet`]: the backend registration and the handles of a namespace
//!   and of an I/O command;
//! - [`page`]: store pages (counted page references) and the index that
//!   holds them, with the lock-free lookup of brd;
//! - [`sg`]: a cursor over a command's data buffer.

pub(crate) mod nvmet;
pub(crate) mod page;
pub(crate) mod sg;

pub(crate) use nvmet::{
    Execute, HeldRequest, Namespace, NamespaceRef, NsInfo, Operations, Registration, Request,
};
pub(crate) use page::{wait_retired_pages, Inserted, NewPage, PageIndex, StorePage};
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) use sg::TestBuffer;
pub(crate) use sg::{Direction, SgCursor};

use kernel::bindings;

/// Bytes of RAM the kernel manages.
pub(crate) fn totalram_bytes() -> u64 {
    // SAFETY: reads a global counter; no preconditions.
    unsafe { bindings::nvmet_mem_totalram_bytes() }
}

/// Pages of memory available to new allocations without swapping
/// (`MemAvailable` in /proc/meminfo).
pub(crate) fn available_pages() -> usize {
    // SAFETY: reads global counters; no preconditions.
    unsafe { bindings::nvmet_mem_available_pages() }
}

/// Whether `nid` is `NUMA_NO_NODE` (-1) or an online node.
pub(crate) fn node_valid(nid: i32) -> bool {
    // SAFETY: the C side range-checks `nid` before using it.
    unsafe { bindings::nvmet_mem_node_valid(nid) }
}

/// Yields the CPU if a reschedule is due. Only for process context.
pub(crate) fn cond_resched() {
    // SAFETY: `cond_resched` may sleep; every caller runs in process
    // context without spinlocks held (see the callers' documentation).
    unsafe { bindings::nvmet_mem_cond_resched() }
}

/// A uniformly distributed random number in `[0, ceil)`; 0 if `ceil` is 0.
/// Any context.
pub(crate) fn random_below(ceil: u32) -> u32 {
    if ceil == 0 {
        return 0;
    }
    // SAFETY: `get_random_u32_below` takes any non-zero bound.
    unsafe { bindings::nvmet_mem_random_below(ceil) }
}

/// A uniformly distributed random number in `[0, ceil)`, for any `u64`
/// bound (the bias of the multiply-shift is below `ceil / 2^64`); 0 if
/// `ceil` is 0. Any context.
pub(crate) fn random_u64_below(ceil: u64) -> u64 {
    // SAFETY: `get_random_u64` may be called from any context.
    let r = unsafe { bindings::nvmet_mem_random_u64() };
    ((u128::from(r) * u128::from(ceil)) >> 64) as u64
}
