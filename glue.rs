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
    Execute, Executing, HeldRequest, Namespace, NamespaceRef, NsInfo, Operations, Parse,
    Registration, Request,
};
pub(crate) use page::{retired_pages, Inserted, NewPage, PageIndex, Retiring, StorePage};
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) use sg::TestBuffer;
pub(crate) use sg::{Direction, SgCursor};
