// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer between nvmet and the safe backend logic.
//!
//! This file and `nvmet_mem_glue.c` are the only places that deal with raw
//! pointers. nvmet's structures stay opaque: every field is read or written
//! by a C accessor that includes nvmet's own header, so no layout is
//! written down here. The entry points that nvmet calls through the backend
//! ops table (`nvmet_mem_rs_*`) wrap their raw arguments in the safe handles
//! [`Namespace`] and [`Request`] and call into [`crate::backend`].

use core::marker::{PhantomData, PhantomPinned};
use core::ptr::NonNull;
use kernel::error::to_result;
use kernel::prelude::*;

/// Opaque `struct nvmet_ns`.
#[repr(C)]
pub(crate) struct RawNs {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

/// Opaque `struct nvmet_req`.
#[repr(C)]
pub(crate) struct RawReq {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

// The C accessors; see nvmet_mem_glue.h.
extern "C" {
    fn nvmet_mem_register() -> c_int;
    fn nvmet_mem_unregister();
    fn nvmet_mem_ns_device_path(ns: *const RawNs) -> *const c_char;
    fn nvmet_mem_ns_nsid(ns: *const RawNs) -> u32;
    fn nvmet_mem_ns_set_geometry(ns: *mut RawNs, size: u64, blksize_shift: u32);
    fn nvmet_mem_req_invalid_opcode(req: *mut RawReq) -> u16;
}

/// The `mem` backend's registration with nvmet; dropping it unregisters.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the backend (name, owner module and ops live in the C glue).
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the ops table is a static of this module with all
        // mandatory operations set; it outlives the registration, which
        // `Drop` removes before the module's memory goes away.
        to_result(unsafe { nvmet_mem_register() })?;
        Ok(Self(()))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // No namespace uses the backend any more: each enabled one holds a
        // reference on this module, and module exit runs only without any.
        // SAFETY: `new` registered the ops table; this is the only handle.
        unsafe { nvmet_mem_unregister() };
    }
}

/// A namespace that nvmet is enabling or disabling through this backend.
///
/// nvmet calls `enable` and `disable` with the subsystem lock held and no
/// I/O in flight, so the handle has exclusive use of the namespace for the
/// duration of the call, which its lifetime `'a` stands for.
pub(crate) struct Namespace<'a> {
    ptr: NonNull<RawNs>,
    _call: PhantomData<&'a mut RawNs>,
}

impl Namespace<'_> {
    /// The namespace's `device_path` configfs attribute, if set.
    pub(crate) fn device_path(&self) -> Option<&CStr> {
        // SAFETY: `self.ptr` is a valid namespace (type invariant).
        let p = unsafe { nvmet_mem_ns_device_path(self.ptr.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // configfs cannot replace `device_path` while the namespace is being
        // enabled or disabled: its store takes the lock our caller holds.
        // SAFETY: non-NULL, it is a NUL-terminated string that outlives `self`.
        Some(unsafe { CStr::from_char_ptr(p) })
    }

    /// The namespace ID.
    pub(crate) fn nsid(&self) -> u32 {
        // SAFETY: `self.ptr` is a valid namespace (type invariant).
        unsafe { nvmet_mem_ns_nsid(self.ptr.as_ptr()) }
    }

    /// Sets the size in bytes and the logical block size as a shift.
    pub(crate) fn set_geometry(&mut self, size: u64, blksize_shift: u32) {
        // SAFETY: `self.ptr` is a valid namespace that we use exclusively
        // (type invariant), so writing its size fields races with nothing.
        unsafe { nvmet_mem_ns_set_geometry(self.ptr.as_ptr(), size, blksize_shift) };
    }
}

/// An I/O command that nvmet hands to this backend.
///
/// The request stays valid until it is completed; the handle is consumed by
/// the method that hands it back to nvmet.
pub(crate) struct Request<'a> {
    ptr: NonNull<RawReq>,
    _call: PhantomData<&'a mut RawReq>,
}

impl Request<'_> {
    /// Rejects the command as Invalid Opcode, recording the error location.
    pub(crate) fn invalid_opcode(self) -> u16 {
        // SAFETY: `self.ptr` is a valid request being parsed.
        unsafe { nvmet_mem_req_invalid_opcode(self.ptr.as_ptr()) }
    }
}

/// nvmet's `enable` operation.
#[no_mangle]
extern "C" fn nvmet_mem_rs_enable(ns: *mut RawNs) -> c_int {
    let Some(ptr) = NonNull::new(ns) else {
        return EINVAL.to_errno();
    };
    let mut ns = Namespace {
        ptr,
        _call: PhantomData,
    };
    match crate::backend::enable(&mut ns) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// nvmet's `disable` operation.
#[no_mangle]
extern "C" fn nvmet_mem_rs_disable(ns: *mut RawNs) {
    if let Some(ptr) = NonNull::new(ns) {
        let mut ns = Namespace {
            ptr,
            _call: PhantomData,
        };
        crate::backend::disable(&mut ns);
    }
}

/// nvmet's `parse_io_cmd` operation; returns an NVMe status.
#[no_mangle]
extern "C" fn nvmet_mem_rs_parse_io_cmd(req: *mut RawReq) -> u16 {
    match NonNull::new(req) {
        Some(ptr) => crate::backend::parse_io_cmd(Request {
            ptr,
            _call: PhantomData,
        }),
        None => crate::backend::NVME_SC_INTERNAL,
    }
}
