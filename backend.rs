// SPDX-License-Identifier: GPL-2.0

//! The `mem` backend's logic, in safe Rust.
//!
//! This is the registration skeleton: a namespace enabled through the
//! backend gets a fixed geometry and every I/O command is rejected as
//! Invalid Opcode. The page store and the command path replace it.

use crate::ffi::{Namespace, Request};
use kernel::prelude::*;

/// The name a namespace selects the backend by.
pub(crate) const NAME: &str = "mem";

/// NVMe generic status: Internal Error.
pub(crate) const NVME_SC_INTERNAL: u16 = 0x6;

const DEFAULT_SIZE: u64 = 64 << 20;
const DEFAULT_BLKSIZE_SHIFT: u32 = 9;

pub(crate) fn enable(ns: &mut Namespace<'_>) -> Result {
    let Some(path) = ns.device_path() else {
        pr_err!("nsid {}: device_path not set\n", ns.nsid());
        return Err(EINVAL);
    };
    pr_info!("nsid {}: enabling {:?}\n", ns.nsid(), path);
    ns.set_geometry(DEFAULT_SIZE, DEFAULT_BLKSIZE_SHIFT);
    Ok(())
}

pub(crate) fn disable(ns: &mut Namespace<'_>) {
    pr_info!("nsid {}: disabled\n", ns.nsid());
}

pub(crate) fn parse_io_cmd(req: Request<'_>) -> u16 {
    req.invalid_opcode()
}
