// SPDX-License-Identifier: GPL-2.0

//! The backend's [`Operations`], which nvmet calls through the ops table
//! that [`Registration`] builds, and the `execute` callbacks that parsing
//! installs, one per command.
//!
//! Each calls the safe logic in [`crate::backend`] and [`crate::io`]. This
//! is where the crate fixes the types the handles are generic over: the
//! context of the registration is the [`ObjectTable`], and a namespace's
//! data is its [`Binding`].

use crate::backend::{self, Binding, ObjectTable};
use crate::glue::{
    ExecuteFn, Namespace, NamespaceRef, NsInfo, Operations, RawReq, Registration, Request,
};
use crate::hold;
use crate::io::{self, Req};
use crate::nvme::{Command, Status};
use core::ptr::NonNull;
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};

/// The `mem` backend, as nvmet sees it.
pub(crate) struct MemBackend;

/// The backend's registration with nvmet.
pub(crate) type BackendRegistration = Registration<MemBackend>;

/// Registers the backend with nvmet. Only the module's `init` calls this,
/// and the module keeps the registration until its exit.
pub(crate) fn register(objects: Arc<ObjectTable>) -> Result<BackendRegistration> {
    // SAFETY: the module drops the registration at its exit (see above),
    // when no namespace uses the backend, as each enabled one pins it.
    unsafe { BackendRegistration::new(objects) }
}

#[vtable]
impl Operations for MemBackend {
    type Context = Arc<ObjectTable>;
    type NsData = KBox<Binding>;
    const NAME: &'static CStr = c"mem";
    const ONCS: u16 = (bindings::NVME_CTRL_ONCS_COMPARE
        | bindings::NVME_CTRL_ONCS_DSM
        | bindings::NVME_CTRL_ONCS_WRITE_ZEROES
        | bindings::NVME_CTRL_ONCS_VERIFY) as u16;

    fn enable(
        objects: ArcBorrow<'_, ObjectTable>,
        ns: &mut Namespace<'_, KBox<Binding>>,
    ) -> Result<KBox<Binding>> {
        backend::enable(&objects, ns)
    }

    fn disable(objects: ArcBorrow<'_, ObjectTable>, ns: &mut Namespace<'_, KBox<Binding>>) {
        backend::disable(objects, ns);
    }

    fn parse_io_cmd(req: &Req<'_>) -> Result<(), Status> {
        match io::parse(req)? {
            // Every execute function of `io` honours nowait (see there).
            (cmd, false) => req.set_execute(execute_fn(cmd), true),
            // Holding allocates: process context (nvme-loop defers).
            (cmd, true) => req.set_execute(hold_fn(cmd), false),
        }
        Ok(())
    }

    fn revalidate(ns: &NamespaceRef<'_, KBox<Binding>>) {
        backend::revalidate(ns);
    }

    fn ns_info(ns: &NamespaceRef<'_, KBox<Binding>>, info: &mut NsInfo) {
        // thin: NUSE counts the blocks backed by pages
        info.thin = true;
        info.nuse = backend::used_blocks(ns);
        // deallocated blocks read as zeroes; Write Zeroes deallocates
        info.dlfeat = 0x1 | (1 << 3);
        // a write is in the store when it completes; Flush has nothing to do
        info.no_volatile_write_cache = true;
        // a deallocate frees whole pages only
        info.dealloc_blocks = (PAGE_SIZE >> ns.blksize_shift()) as u32;
    }
}

/// Wraps a request that nvmet passes to an `execute` callback.
///
/// # Safety
///
/// `req` is a request on a namespace enabled through this backend that is
/// not completed, passed to an `execute` callback that parsing installed.
unsafe fn request<'a>(req: NonNull<RawReq>) -> Req<'a> {
    // SAFETY: the caller's guarantee; the data of a namespace of this
    // backend is only ever a `KBox<Binding>`, attached while it is enabled.
    unsafe { Request::from_raw(req) }
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
        /// An `execute` callback installed by `parse_io_cmd` for a command
        /// that a holding rule fired for.
        ///
        /// # Safety
        ///
        /// See [`ExecuteFn`].
        unsafe extern "C" fn $name(req: *mut RawReq) {
            if let Some(ptr) = NonNull::new(req) {
                // nvmet executes only commands of enabled namespaces, which
                // pin the module and so the registration.
                // SAFETY: an entry point of the registered backend, as
                // above; the borrow ends with the call.
                let objects = unsafe { BackendRegistration::context() };
                // SAFETY: nvmet executes a request that this backend parsed
                // and that is not completed yet.
                hold::hold(objects, unsafe { request(ptr) }, $cmd);
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
        /// An `execute` callback installed by `parse_io_cmd`.
        ///
        /// # Safety
        ///
        /// See [`ExecuteFn`].
        unsafe extern "C" fn $name(req: *mut RawReq) {
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
