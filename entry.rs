// SPDX-License-Identifier: GPL-2.0

//! The backend's [`Operations`], which nvmet calls through the ops table
//! that [`Registration`] builds, and the [`Execute`] callbacks that parsing
//! installs, two per command (execute it, or let the injection rules look
//! at it first: fail it, hold it or execute it).
//!
//! Each calls the safe logic in [`crate::backend`] and [`crate::io`]. This
//! is where the crate fixes the types the handles are generic over: the
//! context of the registration is the [`ObjectTable`], and a namespace's
//! data is its [`Binding`].

use crate::backend::{self, Binding, ObjectTable};
use crate::glue::{
    Execute, Executing, Namespace, NamespaceRef, NsInfo, Operations, Parse, Registration,
};
use crate::hold;
use crate::io::{self, Via};
use crate::nvme::{Command, Status};
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

    fn parse_io_cmd(req: &Parse<'_, Self>) -> Result<(), Status> {
        let (cmd, via) = io::parse(req)?;
        set_execute(req, cmd, via);
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

macro_rules! commands {
    ($($cmd:ident => $exec:ident, $queued:ident, $checked:ident, $io:ident);* $(;)?) => {
        $(
            /// Executes the command: [`crate::io`] honours nowait.
            struct $exec;

            impl Execute<MemBackend> for $exec {
                const NOWAIT_CAPABLE: bool = true;

                fn execute(req: Executing<'_, MemBackend>) {
                    io::$io(req.into_request())
                }
            }

            /// Executes the command where it may sleep: the object's
            /// `nowait` is off.
            struct $queued;

            impl Execute<MemBackend> for $queued {
                const NOWAIT_CAPABLE: bool = false;

                fn execute(req: Executing<'_, MemBackend>) {
                    io::$io(req.into_request())
                }
            }

            /// Lets the injection rules fail or hold the command first;
            /// holding allocates: not nowait capable.
            struct $checked;

            impl Execute<MemBackend> for $checked {
                const NOWAIT_CAPABLE: bool = false;

                fn execute(req: Executing<'_, MemBackend>) {
                    let objects: Arc<ObjectTable> = req.context().into();
                    hold::execute_checked(objects, req.into_request(), Command::$cmd)
                }
            }
        )*

        /// Installs what executes `cmd` the way `via` says.
        fn set_execute(req: &Parse<'_, MemBackend>, cmd: Command, via: Via) {
            match (cmd, via) {
                $(
                    (Command::$cmd, Via::Nowait) => req.set_execute::<$exec>(),
                    (Command::$cmd, Via::Workqueue) => req.set_execute::<$queued>(),
                    (Command::$cmd, Via::Rules) => req.set_execute::<$checked>(),
                )*
            }
        }
    };
}

commands!(
    Read => ExecuteRead, QueuedRead, CheckedRead, execute_read;
    Write => ExecuteWrite, QueuedWrite, CheckedWrite, execute_write;
    Compare => ExecuteCompare, QueuedCompare, CheckedCompare, execute_compare;
    WriteZeroes => ExecuteWriteZeroes, QueuedWriteZeroes, CheckedWriteZeroes, execute_write_zeroes;
    Dsm => ExecuteDsm, QueuedDsm, CheckedDsm, execute_dsm;
    Verify => ExecuteVerify, QueuedVerify, CheckedVerify, execute_verify;
    Flush => ExecuteFlush, QueuedFlush, CheckedFlush, execute_flush;
);
