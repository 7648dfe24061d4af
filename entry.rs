// SPDX-License-Identifier: GPL-2.0

//! The entry points that nvmet calls through the backend ops table
//! (`nvmet_mem_rs_*`, declared in `nvmet_mem_glue.h`, whose prototypes
//! `#[export]` checks against bindgen's) and the `execute` callbacks
//! that parsing installs, one per command.
//!
//! Each wraps its raw argument in a handle of [`crate::ffi`] and calls the
//! safe logic in [`crate::backend`] and [`crate::io`]. This is where the
//! crate fixes the types the handles are generic over: the context of the
//! registration is the [`ObjectTable`], and a namespace's data is its
//! [`Binding`].

use crate::backend::{self, Binding, ObjectTable};
use crate::ffi::{ExecuteFn, Namespace, NamespaceRef, RawNs, RawReq, Registration, Request};
use crate::io::{self, Command, Req};
use crate::nvme::SC_INTERNAL;
use core::ptr::NonNull;
use kernel::prelude::*;
use kernel::sync::Arc;

/// The backend's registration with nvmet.
pub(crate) type BackendRegistration = Registration<Arc<ObjectTable>>;

/// nvmet's `enable` operation.
///
/// # Safety
///
/// Called by nvmet only, through the ops table, with a namespace it is
/// enabling through this backend (see `nvmet_ns_enable()`).
#[export]
unsafe extern "C" fn nvmet_mem_rs_enable(ns: *mut RawNs) -> c_int {
    let Some(ptr) = NonNull::new(ns) else {
        return EINVAL.to_errno();
    };
    // SAFETY: nvmet calls `enable` with a namespace it is enabling, under
    // the subsystem lock and with no I/O in flight, and the data of a
    // namespace of this backend is only ever a `KBox<Binding>`.
    let mut ns = unsafe { Namespace::<KBox<Binding>>::from_raw(ptr) };
    // SAFETY: an entry point of the registered backend; the borrow ends
    // with the call.
    let objects = unsafe { BackendRegistration::context() };
    match backend::enable(&objects, &mut ns) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// nvmet's `disable` operation.
///
/// # Safety
///
/// Called by nvmet only, through the ops table, with a namespace that it
/// enabled through this backend and is disabling.
#[export]
unsafe extern "C" fn nvmet_mem_rs_disable(ns: *mut RawNs) {
    if let Some(ptr) = NonNull::new(ns) {
        // SAFETY: as in `nvmet_mem_rs_enable`; nvmet disables a namespace
        // after every command on it has completed.
        let mut ns = unsafe { Namespace::<KBox<Binding>>::from_raw(ptr) };
        // SAFETY: an entry point of the registered backend (an enabled
        // namespace pins the module); the borrow ends with the call.
        let objects = unsafe { BackendRegistration::context() };
        backend::disable(objects, &mut ns);
    }
}

/// Blocks backed by pages, for Identify Namespace (NUSE).
///
/// # Safety
///
/// Called by the glue's `ns_info` hook only, with an enabled namespace of
/// this backend that the Identify command holds a reference on.
#[export]
unsafe extern "C" fn nvmet_mem_rs_used_blocks(ns: *mut RawNs) -> u64 {
    match NonNull::new(ns) {
        Some(ptr) => {
            // SAFETY: the ns_info hook runs for an enabled namespace of this
            // backend that the Identify command holds a reference on.
            let ns = unsafe { NamespaceRef::<KBox<Binding>>::from_raw(ptr) };
            backend::used_blocks(&ns)
        }
        None => 0,
    }
}

/// nvmet's `revalidate` operation: update the namespace's size.
///
/// # Safety
///
/// Called by nvmet only, through the ops table, with an enabled namespace
/// of this backend.
#[export]
unsafe extern "C" fn nvmet_mem_rs_revalidate(ns: *mut RawNs) {
    if let Some(ptr) = NonNull::new(ns) {
        // SAFETY: nvmet revalidates an enabled namespace of this backend,
        // holding the subsystem lock (configfs `revalidate_size`) or a
        // reference (Identify Namespace), so it stays enabled meanwhile.
        let ns = unsafe { NamespaceRef::<KBox<Binding>>::from_raw(ptr) };
        backend::revalidate(&ns);
    }
}

/// Wraps a request that nvmet passes to this backend.
///
/// # Safety
///
/// `req` is a request on a namespace enabled through this backend that is
/// not completed, passed to `parse_io_cmd` or to an `execute` callback.
unsafe fn request<'a>(req: NonNull<RawReq>) -> Req<'a> {
    // SAFETY: the caller's guarantee; the data of a namespace of this
    // backend is only ever a `KBox<Binding>`, attached while it is enabled.
    unsafe { Request::from_raw(req) }
}

/// nvmet's `parse_io_cmd` operation; returns an NVMe status.
///
/// # Safety
///
/// Called by nvmet only, through the ops table, with an I/O command on a
/// namespace enabled through this backend.
#[export]
unsafe extern "C" fn nvmet_mem_rs_parse_io_cmd(req: *mut RawReq) -> u16 {
    let Some(ptr) = NonNull::new(req) else {
        return SC_INTERNAL;
    };
    // SAFETY: nvmet parses a new request on a namespace of this backend.
    let req = unsafe { request(ptr) };
    match io::parse(&req) {
        Ok((cmd, false)) => {
            // Every execute function of `io` honours nowait (see there).
            req.set_execute(execute_fn(cmd), true);
            0
        }
        // Holding allocates: process context (nvme-loop defers).
        Ok((cmd, true)) => {
            req.set_execute(hold_fn(cmd), false);
            0
        }
        Err(status) => status,
    }
}

fn execute_fn(cmd: Command) -> ExecuteFn {
    match cmd {
        Command::Read => execute_read,
        Command::Write => execute_write,
        Command::Compare => execute_compare,
        Command::WriteZeroes => execute_write_zeroes,
        Command::Dsm => execute_dsm,
        Command::Verify => execute_verify,
        Command::Flush => execute_flush,
    }
}

fn hold_fn(cmd: Command) -> ExecuteFn {
    match cmd {
        Command::Read => hold_read,
        Command::Write => hold_write,
        Command::Compare => hold_compare,
        Command::WriteZeroes => hold_write_zeroes,
        Command::Dsm => hold_dsm,
        Command::Verify => hold_verify,
        Command::Flush => hold_flush,
    }
}

macro_rules! hold_fns {
    ($($name:ident => $cmd:expr),* $(,)?) => {$(
        /// An `execute` callback installed by `nvmet_mem_rs_parse_io_cmd`
        /// for a command that a holding rule fired for.
        extern "C" fn $name(req: *mut RawReq) {
            if let Some(ptr) = NonNull::new(req) {
                // nvmet executes only commands of enabled namespaces, which
                // pin the module and so the registration.
                // SAFETY: an entry point of the registered backend, as
                // above; the borrow ends with the call.
                let objects = unsafe { BackendRegistration::context() };
                // SAFETY: nvmet executes a request that this backend parsed
                // and that is not completed yet.
                backend::hold(objects, unsafe { request(ptr) }, $cmd);
            }
        }
    )*};
}

hold_fns!(
    hold_read => Command::Read,
    hold_write => Command::Write,
    hold_compare => Command::Compare,
    hold_write_zeroes => Command::WriteZeroes,
    hold_dsm => Command::Dsm,
    hold_verify => Command::Verify,
    hold_flush => Command::Flush,
);

macro_rules! execute_fns {
    ($($name:ident),* $(,)?) => {$(
        /// An `execute` callback installed by `nvmet_mem_rs_parse_io_cmd`.
        extern "C" fn $name(req: *mut RawReq) {
            if let Some(ptr) = NonNull::new(req) {
                // SAFETY: nvmet executes a request that this backend parsed
                // and that is not completed yet.
                io::$name(unsafe { request(ptr) });
            }
        }
    )*};
}

execute_fns!(
    execute_read,
    execute_write,
    execute_compare,
    execute_write_zeroes,
    execute_dsm,
    execute_verify,
    execute_flush,
);
