// SPDX-License-Identifier: GPL-2.0

//! nvmet handles: the backend registration, a namespace being enabled or
//! disabled, a namespace read by Identify, and an I/O command.
//!
//! The handles are generic over `D`, the backend's per-namespace data
//! that a namespace carries from `enable` to `disable` and that every
//! command on it can borrow; the entry points fix `D` once for the crate.

use super::sg::{Direction, SgCursor};
use core::ffi::c_void;
use core::marker::{PhantomData, PhantomPinned};
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::scatterlist::SgMiter;
use kernel::types::ForeignOwnable;

/// An NVMe status code as nvmet takes it (status field, DNR bit included).
pub(crate) type Status = u16;

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

/// An `execute` callback, as [`Request::set_execute`] installs it.
pub(crate) type ExecuteFn = extern "C" fn(*mut RawReq);

// The C accessors; see nvmet_mem_glue.h for what each does.
extern "C" {
    fn nvmet_mem_register(ctx: *mut c_void) -> c_int;
    fn nvmet_mem_unregister();
    fn nvmet_mem_ctx() -> *mut c_void;
    fn nvmet_mem_ns_device_path(ns: *const RawNs) -> *const c_char;
    fn nvmet_mem_ns_nsid(ns: *const RawNs) -> u32;
    fn nvmet_mem_ns_set_geometry(ns: *mut RawNs, size: u64, blksize_shift: u32);
    fn nvmet_mem_ns_set_size(ns: *mut RawNs, size: u64);
    fn nvmet_mem_ns_data(ns: *const RawNs) -> *mut c_void;
    fn nvmet_mem_ns_set_data(ns: *mut RawNs, data: *mut c_void);
    fn nvmet_mem_req_ns_data(req: *const RawReq) -> *mut c_void;
    fn nvmet_mem_req_opcode(req: *const RawReq) -> u8;
    fn nvmet_mem_req_slba(req: *const RawReq) -> u64;
    fn nvmet_mem_req_nlb(req: *const RawReq) -> u32;
    fn nvmet_mem_req_dsm_nr(req: *const RawReq) -> u32;
    fn nvmet_mem_req_dsm_attributes(req: *const RawReq) -> u32;
    fn nvmet_mem_req_dsm_len(req: *const RawReq) -> u32;
    fn nvmet_mem_req_dsm_range(req: *mut RawReq, i: u32, slba: *mut u64, nlb: *mut u32) -> u16;
    fn nvmet_mem_req_set_execute(req: *mut RawReq, execute: ExecuteFn, nowait_capable: bool);
    fn nvmet_mem_req_check_transfer_len(req: *mut RawReq, len: usize) -> bool;
    fn nvmet_mem_req_check_data_len_lte(req: *mut RawReq, len: usize) -> bool;
    fn nvmet_mem_req_nowait(req: *const RawReq) -> bool;
    fn nvmet_mem_req_defer(req: *mut RawReq);
    fn nvmet_mem_req_ending(req: *const RawReq) -> u16;
    fn nvmet_mem_req_sg(
        req: *const RawReq,
        nents: *mut c_uint,
        len: *mut usize,
    ) -> *mut bindings::scatterlist;
    fn nvmet_mem_req_set_error(req: *mut RawReq, loc: u16, slba: u64);
    fn nvmet_mem_req_complete(req: *mut RawReq, status: u16);
    fn nvmet_mem_req_complete_after(req: *mut RawReq, status: u16, delay_ns: u64) -> c_int;
    fn nvmet_mem_req_invalid_opcode(req: *mut RawReq) -> u16;
}

/// The `mem` backend's registration with nvmet; dropping it unregisters.
///
/// The context `T` is handed to the C glue, from which the entry points
/// borrow it with [`Registration::context`] while the backend is
/// registered.
pub(crate) struct Registration<T: ForeignOwnable> {
    _ctx: PhantomData<T>,
}

impl<T: ForeignOwnable> Registration<T> {
    /// Registers the backend (name, owner module and ops live in the C glue).
    pub(crate) fn new(ctx: T) -> Result<Self> {
        let ctx = ctx.into_foreign();
        // SAFETY: the ops table is a static of this module with all mandatory
        // operations set and outlives the registration, which `Drop` removes.
        let ret = unsafe { nvmet_mem_register(ctx) };
        if let Err(e) = to_result(ret) {
            // SAFETY: `ctx` came from `into_foreign` above and nvmet never
            // saw it, as registration failed.
            drop(unsafe { T::from_foreign(ctx) });
            return Err(e);
        }
        Ok(Self { _ctx: PhantomData })
    }

    /// The context, as borrowed by an entry point.
    ///
    /// # Safety
    ///
    /// The caller is an entry point that nvmet calls through the ops table
    /// of a registration of type `T`, and the borrow does not outlive the
    /// call: the backend stays registered throughout (nvmet pins this module
    /// while a namespace uses it, and `Drop` unregisters before reclaiming).
    pub(crate) unsafe fn context<'a>() -> T::Borrowed<'a> {
        // SAFETY: the context came from `into_foreign` in `new` and is
        // reclaimed only after unregistering (caller's guarantee).
        unsafe { T::borrow(nvmet_mem_ctx()) }
    }
}

impl<T: ForeignOwnable> Drop for Registration<T> {
    fn drop(&mut self) {
        // No namespace uses the backend any more: each enabled one holds a
        // reference on this module, and module exit runs only without any.
        // SAFETY: `new` registered the ops table; this is the only handle.
        let ctx = unsafe {
            let ctx = nvmet_mem_ctx();
            nvmet_mem_unregister();
            ctx
        };
        // SAFETY: `ctx` came from `into_foreign` in `new`; no entry point
        // can borrow it any more since the backend is unregistered.
        drop(unsafe { T::from_foreign(ctx) });
    }
}

/// A namespace that nvmet is enabling or disabling through this backend.
///
/// # Invariants
///
/// `ptr` is a namespace that nvmet is enabling or disabling: it calls
/// `enable` and `disable` with the subsystem lock held and no I/O in
/// flight, so the handle has exclusive use of it for `'a`. Its backend data
/// is NULL or came from `D::into_foreign`.
pub(crate) struct Namespace<'a, D: ForeignOwnable> {
    ptr: NonNull<RawNs>,
    _call: PhantomData<(&'a mut RawNs, D)>,
}

impl<'a, D: ForeignOwnable> Namespace<'a, D> {
    /// Wraps the argument of `enable` or `disable`.
    ///
    /// # Safety
    ///
    /// `ptr` is the namespace nvmet passes to the backend's `enable` or
    /// `disable` operation, used only during that call (`'a`), and its
    /// backend data is NULL or came from `D::into_foreign`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<RawNs>) -> Self {
        // INVARIANT: the caller's guarantees.
        Self {
            ptr,
            _call: PhantomData,
        }
    }

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

    /// Attaches the data that commands borrow with [`Request::data`],
    /// until [`Namespace::take_data`].
    pub(crate) fn set_data(&mut self, data: D) {
        // SAFETY: exclusive use (type invariant). Should data be attached
        // already, it is leaked, never freed twice; `enable` attaches data
        // to a namespace that carries none, `disable` takes it back.
        unsafe { nvmet_mem_ns_set_data(self.ptr.as_ptr(), data.into_foreign()) };
    }

    /// Detaches the data attached by [`Namespace::set_data`].
    pub(crate) fn take_data(&mut self) -> Option<D> {
        // SAFETY: exclusive use (type invariant).
        let p = unsafe { nvmet_mem_ns_data(self.ptr.as_ptr()) };
        // SAFETY: as above; clearing it first means it is reclaimed once.
        unsafe { nvmet_mem_ns_set_data(self.ptr.as_ptr(), ptr::null_mut()) };
        // SAFETY: a non-NULL pointer came from `D::into_foreign` (type
        // invariant); no command borrows it, as nvmet disables a namespace
        // only after every command on it has completed.
        unsafe { D::try_from_foreign(p) }
    }
}

/// An enabled namespace, as the Identify hook and `revalidate` see it:
/// shared with the commands in flight, so it only reads (and updates the
/// size for `revalidate`).
///
/// # Invariants
///
/// `ptr` is an enabled namespace that the caller holds a reference on for
/// `'a`; its backend data is NULL or came from `D::into_foreign` and is
/// changed only by `enable` and `disable`, which do not run meanwhile.
pub(crate) struct NamespaceRef<'a, D: ForeignOwnable> {
    ptr: NonNull<RawNs>,
    _call: PhantomData<(&'a RawNs, D)>,
}

impl<'a, D: ForeignOwnable> NamespaceRef<'a, D> {
    /// Wraps the argument of an Identify hook or of `revalidate`.
    ///
    /// # Safety
    ///
    /// `ptr` is an enabled namespace that stays enabled for `'a` (the
    /// command that identifies it holds a reference), whose backend data is
    /// NULL or came from `D::into_foreign`.
    pub(crate) unsafe fn from_raw(ptr: NonNull<RawNs>) -> Self {
        // INVARIANT: the caller's guarantees.
        Self {
            ptr,
            _call: PhantomData,
        }
    }

    /// The data attached by [`Namespace::set_data`], if any.
    pub(crate) fn data(&self) -> Option<D::Borrowed<'_>> {
        // SAFETY: `self.ptr` is a valid namespace (type invariant).
        let p = unsafe { nvmet_mem_ns_data(self.ptr.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `D::into_foreign` and stays attached while
        // the namespace is enabled, which outlives the borrow of `self`.
        Some(unsafe { D::borrow(p) })
    }

    /// Sets the size in bytes, as nvmet's `revalidate` operation does.
    pub(crate) fn set_size(&self, size: u64) {
        // nvmet calls `revalidate` for the backend to update the size and
        // writes the field with no more locking than its caller holds (as
        // the bdev and file backends do): it is nvmet's to synchronise.
        // SAFETY: `self.ptr` is a valid namespace (type invariant).
        unsafe { nvmet_mem_ns_set_size(self.ptr.as_ptr(), size) };
    }
}

/// An I/O command that nvmet hands to this backend.
///
/// # Invariants
///
/// `ptr` is a request that is not completed yet; methods that hand it
/// back to nvmet (complete, defer, a failed length check) consume the
/// handle, so it cannot be used after. Its namespace's backend data is NULL
/// or came from `D::into_foreign` and outlives the request.
pub(crate) struct Request<'a, D: ForeignOwnable> {
    ptr: NonNull<RawReq>,
    _call: PhantomData<(&'a mut RawReq, D)>,
}

impl<'a, D: ForeignOwnable> Request<'a, D> {
    /// Wraps the argument of `parse_io_cmd` or of an `execute` callback.
    ///
    /// # Safety
    ///
    /// `ptr` is a request that nvmet passed to the backend and that is not
    /// completed; nothing else uses it while the handle exists (nvmet calls
    /// parse, then execute, once each). Its namespace is enabled through
    /// this backend, so the namespace's backend data is NULL or came from
    /// `D::into_foreign`, and it stays attached until every command on the
    /// namespace has completed.
    pub(crate) unsafe fn from_raw(ptr: NonNull<RawReq>) -> Self {
        // INVARIANT: the caller's guarantees.
        Self {
            ptr,
            _call: PhantomData,
        }
    }

    fn raw(&self) -> *mut RawReq {
        self.ptr.as_ptr()
    }

    /// The command's opcode.
    pub(crate) fn opcode(&self) -> u8 {
        // SAFETY: `self.ptr` is a valid request with its command set.
        unsafe { nvmet_mem_req_opcode(self.raw()) }
    }

    /// Starting LBA (Read, Write, Compare, Write Zeroes, Verify).
    pub(crate) fn slba(&self) -> u64 {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_slba(self.raw()) }
    }

    /// Number of logical blocks, 1-based (same commands as `slba`).
    pub(crate) fn nlb(&self) -> u32 {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_nlb(self.raw()) }
    }

    /// Number of ranges of a Dataset Management command, 1-based.
    pub(crate) fn dsm_nr(&self) -> u32 {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_dsm_nr(self.raw()) }
    }

    /// Attributes of a Dataset Management command.
    pub(crate) fn dsm_attributes(&self) -> u32 {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_dsm_attributes(self.raw()) }
    }

    /// Length in bytes of a Dataset Management command's range list.
    pub(crate) fn dsm_len(&self) -> usize {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_dsm_len(self.raw()) as usize }
    }

    /// Range `i` of a Dataset Management command as (SLBA, NLB), copied
    /// from the command's data.
    pub(crate) fn dsm_range(&self, i: u32) -> Result<(u64, u32), Status> {
        let (mut slba, mut nlb) = (0u64, 0u32);
        // SAFETY: a valid request; the C side bounds the copy by the data
        // length and writes only the two locals.
        let status = unsafe { nvmet_mem_req_dsm_range(self.raw(), i, &mut slba, &mut nlb) };
        match status {
            0 => Ok((slba, nlb)),
            s => Err(s),
        }
    }

    /// The data of the namespace this command addresses, borrowed for no
    /// longer than the handle: completing the command ends the borrow.
    pub(crate) fn data(&self) -> Option<D::Borrowed<'_>> {
        // SAFETY: the request holds a reference on its namespace until it is
        // completed, which needs `self` back.
        let p = unsafe { nvmet_mem_req_ns_data(self.raw()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `D::into_foreign` and stays attached until
        // the command completes (type invariant), which the borrow of
        // `self` outlasts.
        Some(unsafe { D::borrow(p) })
    }

    /// Makes nvmet call `execute` for this command. With `nowait_capable`
    /// the caller promises that `execute` honours [`Request::nowait`]:
    /// called with it set, it completes the command without sleeping or
    /// hands it to [`Request::defer`]. nvme-loop then calls it from its
    /// submission context.
    pub(crate) fn set_execute(&self, execute: ExecuteFn, nowait_capable: bool) {
        // SAFETY: a valid request being parsed.
        unsafe { nvmet_mem_req_set_execute(self.raw(), execute, nowait_capable) };
    }

    /// Checks that the host transfers exactly `len` bytes. If not, nvmet has
    /// completed the command with an error and `None` is returned.
    pub(crate) fn check_transfer_len(self, len: usize) -> Option<Self> {
        // SAFETY: a valid, not yet completed request.
        unsafe { nvmet_mem_req_check_transfer_len(self.raw(), len) }.then_some(self)
    }

    /// Checks that the host transfers at most `len` bytes; as above.
    pub(crate) fn check_data_len_lte(self, len: usize) -> Option<Self> {
        // SAFETY: a valid, not yet completed request.
        unsafe { nvmet_mem_req_check_data_len_lte(self.raw(), len) }.then_some(self)
    }

    /// Whether `execute` runs in a context that must not sleep (the
    /// transport said so, or it is a softirq): the command must complete
    /// without sleeping or be handed to [`Request::defer`].
    pub(crate) fn nowait(&self) -> bool {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_nowait(self.raw()) }
    }

    /// Executes the command again from process context (nvmet_wq), with
    /// [`Request::nowait`] false.
    pub(crate) fn defer(self) {
        // SAFETY: a valid request whose execute was called with nowait set
        // (nvmet_req_defer clears it); `self` is consumed, as the request
        // may complete on another CPU at once.
        unsafe { nvmet_mem_req_defer(self.raw()) };
    }

    /// A cursor at the start of the command's data buffer, through which
    /// data moves the way `dir` says.
    pub(crate) fn data_cursor(&self, dir: Direction) -> SgCursor<'_> {
        let mut nents: c_uint = 0;
        let mut len: usize = 0;
        // SAFETY: a valid request; the C side only reads it.
        let sg = unsafe { nvmet_mem_req_sg(self.raw(), &mut nents, &mut len) };
        // The host and the transport access the buffer from C or a device,
        // atomically as far as Rust is concerned, and nothing in Rust forms
        // a reference to it.
        // SAFETY: `sg` starts the command's `nents` entries (none if NULL);
        // they and the buffer live until the command completes, which the
        // borrow of `self` outlasts; what races the iterator is as above.
        let miter = unsafe { SgMiter::new(sg, nents, dir) };
        // SAFETY: the entries hold the command's transfer length, `len` (0
        // without entries).
        unsafe { SgCursor::new(miter, len) }
    }

    /// Records an error for the Error Information log: `loc` is the byte
    /// offset of the command field it concerns, `slba` the LBA where it
    /// happened.
    pub(crate) fn set_error(&self, loc: u16, slba: u64) {
        // SAFETY: a valid request, not yet completed.
        unsafe { nvmet_mem_req_set_error(self.raw(), loc, slba) };
    }

    /// Completes the command with `status`.
    pub(crate) fn complete(self, status: Status) {
        // SAFETY: a valid request, completed once: `self` is consumed.
        unsafe { nvmet_mem_req_complete(self.raw(), status) };
    }

    /// Completes the command with `status` `delay_ns` nanoseconds from now,
    /// from a timer, without blocking the caller. Hands the command back
    /// if no timer could be allocated (without waiting, where [`Request::nowait`]
    /// holds).
    pub(crate) fn complete_after(self, status: Status, delay_ns: u64) -> Result<(), Self> {
        // SAFETY: a valid request, not yet completed. On success the timer
        // completes it, once, and `self` is consumed; on failure nothing
        // was done with it and it is handed back.
        match unsafe { nvmet_mem_req_complete_after(self.raw(), status, delay_ns) } {
            0 => Ok(()),
            _ => Err(self),
        }
    }

    /// Keeps the command beyond this call: the handle owns it until it
    /// completes it or resumes it.
    pub(crate) fn hold(self) -> HeldRequest<D> {
        // INVARIANT: the request is not completed, and consuming `self`
        // leaves the held handle its only user.
        HeldRequest {
            ptr: self.ptr,
            _d: PhantomData,
        }
    }

    /// Rejects the command as Invalid Opcode, recording the error location.
    pub(crate) fn invalid_opcode(&self) -> Status {
        // SAFETY: a valid request being parsed.
        unsafe { nvmet_mem_req_invalid_opcode(self.raw()) }
    }
}

/// An I/O command that the backend keeps past its `execute` call (see
/// [`crate::backend::hold`]). It holds its queue's and namespace's
/// references, so neither goes away before it completes: dropping the
/// handle completes it with *Command Abort Requested*.
///
/// # Invariants
///
/// `ptr` is a request that is not completed, whose `execute` has been
/// called, and that nothing but this handle uses; its namespace's backend
/// data is NULL or came from `D::into_foreign` and outlives the request.
pub(crate) struct HeldRequest<D: ForeignOwnable> {
    ptr: NonNull<RawReq>,
    _d: PhantomData<D>,
}

// SAFETY: a request may be completed or executed from any process context
// (nvmet completes from workqueues, softirqs and interrupts alike), and the
// handle is its only user.
unsafe impl<D: ForeignOwnable> Send for HeldRequest<D> {}

impl<D: ForeignOwnable> HeldRequest<D> {
    /// 0 while the command's queue and namespace live; otherwise the status
    /// to complete it with, at once, as their deletion waits for it.
    pub(crate) fn ending(&self) -> Status {
        // SAFETY: a valid request (type invariant); its queue and namespace
        // are alive, as it holds references on both.
        unsafe { nvmet_mem_req_ending(self.ptr.as_ptr()) }
    }

    /// Gives the command back for executing, in process context.
    pub(crate) fn resume<'a>(self) -> Request<'a, D> {
        let this = core::mem::ManuallyDrop::new(self);
        // INVARIANT: the request is not completed and the handle that owned
        // it is forgotten, so the request's only user is the new one.
        Request {
            ptr: this.ptr,
            _call: PhantomData,
        }
    }
}

impl<D: ForeignOwnable> Drop for HeldRequest<D> {
    fn drop(&mut self) {
        let req: Request<'_, D> = Request {
            ptr: self.ptr,
            _call: PhantomData,
        };
        req.complete(crate::nvme::SC_ABORT_REQ);
    }
}
