// SPDX-License-Identifier: GPL-2.0

//! nvmet handles: the backend registration, a namespace being enabled or
//! disabled, a namespace read by Identify, and an I/O command.
//!
//! The handles are generic over `D`, the backend's per-namespace data
//! that a namespace carries from `enable` to `disable` and that every
//! command on it can borrow; the entry points fix `D` once for the crate.

use super::sg::{Direction, SgCursor};
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use kernel::bindings;
use kernel::error::to_result;
use kernel::prelude::*;
use kernel::scatterlist::SgMiter;
use kernel::types::ForeignOwnable;

/// An NVMe status code as nvmet takes it (status field, DNR bit included).
pub(crate) type Status = u16;

/// nvmet's `struct nvmet_ns`, as bindgen sees it in nvmet.h.
pub(crate) type RawNs = bindings::nvmet_ns;

/// nvmet's `struct nvmet_req`, as bindgen sees it in nvmet.h.
pub(crate) type RawReq = bindings::nvmet_req;

/// An `execute` callback, as [`Request::set_execute`] installs it.
pub(crate) type ExecuteFn = extern "C" fn(*mut RawReq);

/// A size as nvmet's `loff_t` holds it (configfs keeps an object's size
/// at or below `i64::MAX`, so this saturates only in theory).
fn loff(size: u64) -> bindings::loff_t {
    bindings::loff_t::try_from(size).unwrap_or(bindings::loff_t::MAX)
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
        let ret = unsafe { bindings::nvmet_mem_register(ctx) };
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
        unsafe { T::borrow(bindings::nvmet_mem_ctx()) }
    }
}

impl<T: ForeignOwnable> Drop for Registration<T> {
    fn drop(&mut self) {
        // No namespace uses the backend any more: each enabled one holds a
        // reference on this module, and module exit runs only without any.
        // SAFETY: `new` registered the ops table; this is the only handle.
        let ctx = unsafe {
            let ctx = bindings::nvmet_mem_ctx();
            bindings::nvmet_mem_unregister();
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
        let p = unsafe { (*self.ptr.as_ptr()).device_path };
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
        unsafe { (*self.ptr.as_ptr()).nsid }
    }

    /// Sets the size in bytes and the logical block size as a shift.
    pub(crate) fn set_geometry(&mut self, size: u64, blksize_shift: u32) {
        let ns = self.ptr.as_ptr();
        // SAFETY: `self.ptr` is a valid namespace that we use exclusively
        // (type invariant), so writing its size fields races with nothing.
        unsafe {
            (*ns).size = loff(size);
            (*ns).blksize_shift = blksize_shift;
        }
    }

    /// Attaches the data that commands borrow with [`Request::data`],
    /// until [`Namespace::take_data`].
    pub(crate) fn set_data(&mut self, data: D) {
        // SAFETY: exclusive use (type invariant). Should data be attached
        // already, it is leaked, never freed twice; `enable` attaches data
        // to a namespace that carries none, `disable` takes it back.
        unsafe { (*self.ptr.as_ptr()).backend_data = data.into_foreign() };
    }

    /// Detaches the data attached by [`Namespace::set_data`].
    pub(crate) fn take_data(&mut self) -> Option<D> {
        // SAFETY: exclusive use (type invariant); clearing the field means
        // that what it held is reclaimed once.
        let p =
            unsafe { ptr::replace(&raw mut (*self.ptr.as_ptr()).backend_data, ptr::null_mut()) };
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
        let p = unsafe { (*self.ptr.as_ptr()).backend_data };
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
        unsafe { (*self.ptr.as_ptr()).size = loff(size) };
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

    /// The command's submission queue entry: the transport wrote it
    /// before nvmet parsed it, and nothing writes it until the command
    /// completes, which needs `self` back.
    fn cmd(&self) -> &bindings::nvme_command {
        // SAFETY: a valid request (type invariant); its `cmd` is valid and
        // unchanging while `self` is borrowed (see above).
        unsafe { &*(*self.raw()).cmd }
    }

    /// The command's opcode.
    pub(crate) fn opcode(&self) -> u8 {
        // SAFETY: every member of the union starts with the common header.
        unsafe { self.cmd().__bindgen_anon_1.common.opcode }
    }

    /// Starting LBA (Read, Write, Compare, Write Zeroes, Verify).
    pub(crate) fn slba(&self) -> u64 {
        // SAFETY: the union's members are plain integers, valid for any
        // bits; Write Zeroes and Verify put SLBA where Read and Write do.
        u64::from_le(unsafe { self.cmd().__bindgen_anon_1.rw.slba })
    }

    /// Number of logical blocks, 1-based (same commands as `slba`).
    pub(crate) fn nlb(&self) -> u32 {
        // SAFETY: as in `slba`.
        u32::from(u16::from_le(unsafe {
            self.cmd().__bindgen_anon_1.rw.length
        })) + 1
    }

    /// Number of ranges of a Dataset Management command, 1-based: bits
    /// 07:00 of CDW10, 0's based (bits 31:08 are reserved, though the
    /// core's bdev and file backends read the whole dword).
    pub(crate) fn dsm_nr(&self) -> u32 {
        // SAFETY: as in `slba`.
        (u32::from_le(unsafe { self.cmd().__bindgen_anon_1.dsm.nr }) & 0xff) + 1
    }

    /// Attributes of a Dataset Management command.
    pub(crate) fn dsm_attributes(&self) -> u32 {
        // SAFETY: as in `slba`.
        u32::from_le(unsafe { self.cmd().__bindgen_anon_1.dsm.attributes })
    }

    /// Length in bytes of a Dataset Management command's range list.
    pub(crate) fn dsm_len(&self) -> usize {
        self.dsm_nr() as usize * core::mem::size_of::<bindings::nvme_dsm_range>()
    }

    /// Range `i` of a Dataset Management command as (SLBA, NLB), copied
    /// from the command's data.
    pub(crate) fn dsm_range(&self, i: u32) -> Result<(u64, u32), Status> {
        let mut range = bindings::nvme_dsm_range::default();
        let size = core::mem::size_of_val(&range);
        // An offset past the data (at most 256 ranges of 16 bytes here)
        // makes the copy fail.
        let off = isize::try_from(i as usize * size).unwrap_or(isize::MAX);
        // SAFETY: a valid request; nvmet_copy_from_sgl() copies at most
        // `size` bytes into `range`, and fails if the data ends first.
        let status = unsafe {
            bindings::nvmet_copy_from_sgl(self.raw(), off, (&raw mut range).cast(), size)
        };
        match status {
            0 => Ok((u64::from_le(range.slba), u32::from_le(range.nlb))),
            s => Err(s),
        }
    }

    /// The data of the namespace this command addresses, borrowed for no
    /// longer than the handle: completing the command ends the borrow.
    pub(crate) fn data(&self) -> Option<D::Borrowed<'_>> {
        // SAFETY: the request holds a reference on its namespace until it is
        // completed, which needs `self` back.
        let p = unsafe { (*(*self.raw()).ns).backend_data };
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
        let req = self.raw();
        // SAFETY: a valid request being parsed: nvmet reads these fields
        // only after `parse_io_cmd` returns.
        unsafe {
            (*req).execute = Some(execute);
            (*req).nowait_capable = nowait_capable;
        }
    }

    /// Checks that the host transfers exactly `len` bytes. If not, nvmet has
    /// completed the command with an error and `None` is returned.
    pub(crate) fn check_transfer_len(self, len: usize) -> Option<Self> {
        // SAFETY: a valid, not yet completed request.
        unsafe { bindings::nvmet_check_transfer_len(self.raw(), len) }.then_some(self)
    }

    /// Checks that the host transfers at most `len` bytes; as above.
    pub(crate) fn check_data_len_lte(self, len: usize) -> Option<Self> {
        // SAFETY: a valid, not yet completed request.
        unsafe { bindings::nvmet_check_data_len_lte(self.raw(), len) }.then_some(self)
    }

    /// Whether `execute` runs in a context that must not sleep (the
    /// transport said so, or it is a softirq): the command must complete
    /// without sleeping or be handed to [`Request::defer`].
    pub(crate) fn nowait(&self) -> bool {
        // SAFETY: as in `opcode`.
        unsafe { bindings::nvmet_mem_req_nowait(self.raw()) }
    }

    /// Executes the command again from process context (nvmet_wq), with
    /// [`Request::nowait`] false.
    pub(crate) fn defer(self) {
        // SAFETY: a valid request whose execute was called with nowait set
        // (nvmet_req_defer clears it); `self` is consumed, as the request
        // may complete on another CPU at once.
        unsafe { bindings::nvmet_req_defer(self.raw()) };
    }

    /// The command's data buffer: its first scatterlist entry (NULL if
    /// none), the number of entries that hold its data, and the bytes they
    /// hold for it: the data length (without separate metadata), or less if
    /// the list ends first. The entries are walked rather than counted by
    /// `sg_cnt`, which nvmet-fc sets to the number of DMA-mapped segments
    /// (fewer than the entries where an IOMMU merges them).
    fn data_sg(&self) -> (*mut bindings::scatterlist, u32, usize) {
        let req = self.raw();
        // SAFETY: a valid request (type invariant): the transport set these
        // fields before handing it over, and they stay until it completes.
        let (sg, sg_cnt, transfer_len, metadata_len) = unsafe {
            (
                (*req).sg,
                (*req).sg_cnt,
                (*req).transfer_len,
                (*req).metadata_len,
            )
        };
        let want = match transfer_len.checked_sub(metadata_len) {
            Some(want) if sg_cnt != 0 => want,
            _ => 0,
        };
        let (mut cur, mut nents, mut got) = (sg, 0u32, 0usize);
        while want > got && !cur.is_null() {
            // SAFETY: `cur` is an entry of the request's list, which lives
            // until the request completes.
            got += unsafe { (*cur).length } as usize;
            nents += 1;
            // SAFETY: as above; sg_next() returns NULL after the last entry.
            cur = unsafe { bindings::sg_next(cur) };
        }
        let first = if nents > 0 { sg } else { ptr::null_mut() };
        (first, nents, got.min(want))
    }

    /// A cursor at the start of the command's data buffer, through which
    /// data moves the way `dir` says.
    pub(crate) fn data_cursor(&self, dir: Direction) -> SgCursor<'_> {
        let (sg, nents, len) = self.data_sg();
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
        let req = self.raw();
        // SAFETY: a valid request, not yet completed: nvmet reads the
        // fields when it completes it.
        unsafe {
            (*req).error_loc = loc;
            (*req).error_slba = slba;
        }
    }

    /// Completes the command with `status`.
    pub(crate) fn complete(self, status: Status) {
        // SAFETY: a valid request, completed once: `self` is consumed.
        unsafe { bindings::nvmet_req_complete(self.raw(), status) };
    }

    /// Completes the command with `status` `delay_ns` nanoseconds from now,
    /// from a timer, without blocking the caller. Hands the command back
    /// if no timer could be allocated (without waiting, where [`Request::nowait`]
    /// holds).
    pub(crate) fn complete_after(self, status: Status, delay_ns: u64) -> Result<(), Self> {
        // SAFETY: a valid request, not yet completed. On success the timer
        // completes it, once, and `self` is consumed; on failure nothing
        // was done with it and it is handed back.
        match unsafe { bindings::nvmet_mem_req_complete_after(self.raw(), status, delay_ns) } {
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
        unsafe { bindings::nvmet_report_invalid_opcode(self.raw()) }
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
        unsafe { bindings::nvmet_mem_req_ending(self.ptr.as_ptr()) }
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
