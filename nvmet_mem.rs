// SPDX-License-Identifier: GPL-2.0

//! nvmet-mem: a memory backend for the Linux NVMe target.
//!
//! On load the module registers a namespace backend named `mem` with the
//! nvmet core (see `patches/`) and a configfs subsystem, `nvmet_mem`, in
//! which a user creates memory objects. A namespace selects the backend by
//! writing `mem` to its `backend` attribute and names an object in its
//! `device_path`. The nvmet core holds a reference on this module for every
//! enabled namespace that uses the backend, and configfs one for every
//! memory object, so `rmmod` is refused while either exists.
//!
//! Layout: [`glue`] (with its C half, `nvmet_mem_glue.c`) and [`entry`]
//! (the functions nvmet calls) are the only places with `unsafe`;
//! [`backend`] (objects and binding), [`store`] (the page store), [`io`]
//! (the command path), [`hold`] (held commands), [`inject`] (error
//! injection), [`configfs`] and [`nvme`] (the command vocabulary) are safe
//! Rust.

mod backend;
mod configfs;
mod entry;
mod glue;
mod hold;
mod inject;
mod io;
mod nvme;
mod store;

use kernel::prelude::*;

module! {
    type: NvmetMem,
    name: "nvmet_mem",
    authors: ["nvmet-mem developers"],
    description: "Memory backend for the NVMe target",
    license: "GPL",
    alias: ["nvmet-backend-mem"],
}

#[pin_data]
struct NvmetMem {
    // Dropped first: code of this module that completed a command may
    // still be returning.
    _returning: Returning,
    // Then the poll of held commands, which runs this module's code.
    _poll: TableWork,
    // No namespace can bind once the backend is gone.
    _registration: entry::BackendRegistration,
    #[pin]
    _configfs: kernel::configfs::Subsystem<configfs::Root>,
    // Dropped last: waits for the pages the stores removed to be freed.
    _retired: RetiredPages,
}

/// Waits, when dropped, until no CPU or task executes this module's code
/// after completing a command. A namespace pins the module only until its
/// last command completes: the function that completed it (a backend's
/// execute, a timer callback, a work item) may still be returning, in this
/// module's text, when the namespace is disabled and the module is removed.
/// None of them sleeps after the completion, so each has left once every
/// task has switched context voluntarily ([`synchronize_rcu_tasks`], which
/// Kconfig makes sure is more than [`synchronize_rcu`] on a preemptible
/// kernel) and every interrupt and bottom half has ended
/// ([`synchronize_rcu`]).
///
/// [`synchronize_rcu_tasks`]: kernel::sync::rcu::synchronize_rcu_tasks
/// [`synchronize_rcu`]: kernel::sync::rcu::synchronize_rcu
struct Returning;

impl Drop for Returning {
    fn drop(&mut self) {
        kernel::sync::rcu::synchronize_rcu();
        kernel::sync::rcu::synchronize_rcu_tasks();
    }
}

/// Waits, when dropped, until every page that a store removed (see
/// `glue::PageIndex::remove`) has been freed: the RCU callback that frees
/// them is the module's code (`RcuBox`'s, made for the store's pages).
/// Dropped on unload, when no object, and so no store, is left to remove
/// more.
struct RetiredPages;

impl Drop for RetiredPages {
    fn drop(&mut self) {
        kernel::sync::rcu::rcu_barrier();
    }
}

/// Flushes the poll of held commands when dropped (see
/// `backend::ObjectTable::flush_poll`): on unload no namespace is enabled,
/// so no command is held and a pending poll ends at once.
struct TableWork(kernel::sync::Arc<backend::ObjectTable>);

impl Drop for TableWork {
    fn drop(&mut self) {
        self.0.flush_poll();
        // A disable or rmdir just before the unload may have queued the
        // freeing of an object's pages: wait for it (the pages themselves
        // go a grace period later, which `_retired` waits for).
        self.0.flush_reap();
    }
}

impl kernel::InPlaceModule for NvmetMem {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        pin_init::pin_init_scope(|| {
            store::set_reserve_pages(store::default_reserve_pages());
            let objects = backend::ObjectTable::new()?;
            Ok(try_pin_init!(Self {
                _returning: Returning,
                _poll: TableWork(objects.clone()),
                _configfs <- configfs::subsystem(objects.clone()),
                _registration: entry::register(objects)?,
                _retired: RetiredPages,
            }))
        })
    }
}
