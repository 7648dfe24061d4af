// SPDX-License-Identifier: GPL-2.0

//! nvmet-mem: a memory backend for the Linux NVMe target.
//!
//! On load the module registers a namespace backend named `mem` with the
//! nvmet core (see `patches/`); a namespace selects it by writing `mem` to
//! its configfs `backend` attribute. On unload the backend is unregistered.
//! The nvmet core holds a reference on this module for every enabled
//! namespace that uses the backend, so `rmmod` is refused while one does.
//!
//! Layout: [`ffi`] is the only place with `unsafe` (together with the C
//! accessors in `nvmet_mem_glue.c`); [`backend`] is the safe logic.

mod backend;
mod ffi;

use kernel::prelude::*;

module! {
    type: NvmetMem,
    name: "nvmet_mem",
    authors: ["nvmet-mem developers"],
    description: "Memory backend for the NVMe target",
    license: "GPL",
}

struct NvmetMem {
    _registration: ffi::Registration,
}

impl kernel::Module for NvmetMem {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let registration = ffi::Registration::new()?;
        pr_info!("backend \"{}\" ready\n", backend::NAME);
        Ok(Self {
            _registration: registration,
        })
    }
}
