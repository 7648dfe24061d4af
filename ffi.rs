// SPDX-License-Identifier: GPL-2.0

//! The thin FFI layer between nvmet and the safe backend logic.
//!
//! This file and `nvmet_mem_glue.c` are the only places that deal with raw
//! pointers. nvmet's structures stay opaque: every field is read or written
//! by a C accessor that includes nvmet's own header, so no layout is written
//! down here. The entry points that nvmet calls through the backend ops table
//! (`nvmet_mem_rs_*`) wrap their raw arguments in the safe handles
//! [`Namespace`] and [`Request`] and call into [`crate::backend`] and
//! [`crate::io`].
//!
//! Besides those handles this layer offers the two memory primitives the
//! page store is built from: [`StorePage`], an owned page that an
//! [`kernel::xarray::XArray`] can hold, and [`SgChunk`], one kmapped piece
//! of a request's scatterlist, with bounds-checked copies between the two.

use crate::backend::{Bound, Registry};
use core::ffi::c_void;
use core::marker::{PhantomData, PhantomPinned};
use core::ptr::{self, NonNull};
use kernel::alloc::AllocError;
use kernel::bindings;
use kernel::error::to_result;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::sync::{Arc, ArcBorrow};
use kernel::types::ForeignOwnable;

/// An NVMe status code as nvmet takes it (status field, DNR bit included).
pub(crate) type Status = u16;

/// Opaque `struct nvmet_ns`.
#[repr(C)]
pub(crate) struct RawNs {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

/// Opaque `struct page`, as the C accessors take it.
#[repr(C)]
struct RawPage {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

/// Opaque `struct nvmet_req`.
#[repr(C)]
pub(crate) struct RawReq {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

// The C accessors; see nvmet_mem_glue.h for what each does.
extern "C" {
    fn nvmet_mem_register(ctx: *mut c_void) -> c_int;
    fn nvmet_mem_unregister();
    fn nvmet_mem_ctx() -> *mut c_void;
    fn nvmet_mem_ns_device_path(ns: *const RawNs) -> *const c_char;
    fn nvmet_mem_ns_nsid(ns: *const RawNs) -> u32;
    fn nvmet_mem_ns_set_geometry(ns: *mut RawNs, size: u64, blksize_shift: u32);
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
    fn nvmet_mem_req_set_execute(req: *mut RawReq, inline: bool);
    fn nvmet_mem_req_check_transfer_len(req: *mut RawReq, len: usize) -> bool;
    fn nvmet_mem_req_check_data_len_lte(req: *mut RawReq, len: usize) -> bool;
    fn nvmet_mem_req_inline(req: *const RawReq) -> bool;
    fn nvmet_mem_req_sg_direct(
        req: *const RawReq,
        sg: *mut *mut bindings::scatterlist,
        cnt: *mut u32,
    ) -> bool;
    fn nvmet_mem_sg_virt(
        sg: *mut bindings::scatterlist,
        addr: *mut *mut c_void,
        len: *mut u32,
    ) -> *mut bindings::scatterlist;
    fn nvmet_mem_req_error_slba(req: *mut RawReq, slba: u64);
    fn nvmet_mem_req_complete(req: *mut RawReq, status: u16);
    fn nvmet_mem_req_invalid_opcode(req: *mut RawReq) -> u16;
    fn nvmet_mem_alloc_page(nid: c_int, may_sleep: bool) -> *mut RawPage;
    fn nvmet_mem_free_page(page: *mut RawPage);
    fn nvmet_mem_copy_from_page(to: *mut c_void, page: *mut RawPage, off: usize, len: usize);
    fn nvmet_mem_copy_to_page(page: *mut RawPage, off: usize, from: *const c_void, len: usize);
    fn nvmet_mem_totalram_bytes() -> u64;
    fn nvmet_mem_node_valid(nid: c_int) -> bool;
}

/// Bytes of RAM the kernel manages.
pub(crate) fn totalram_bytes() -> u64 {
    // SAFETY: reads a global counter; no preconditions.
    unsafe { nvmet_mem_totalram_bytes() }
}

/// Whether `nid` is `NUMA_NO_NODE` (-1) or an online node.
pub(crate) fn node_valid(nid: i32) -> bool {
    // SAFETY: the C side range-checks `nid` before using it.
    unsafe { nvmet_mem_node_valid(nid) }
}

/// The `mem` backend's registration with nvmet; dropping it unregisters.
///
/// The registry of memory objects is handed to the C glue as the context
/// that the `nvmet_mem_rs_*` entry points find it by.
pub(crate) struct Registration(());

impl Registration {
    /// Registers the backend (name, owner module and ops live in the C glue).
    pub(crate) fn new(registry: Arc<Registry>) -> Result<Self> {
        let ctx = registry.into_foreign();
        // SAFETY: the ops table is a static of this module with all mandatory
        // operations set and outlives the registration, which `Drop` removes.
        let ret = unsafe { nvmet_mem_register(ctx) };
        if let Err(e) = to_result(ret) {
            // SAFETY: `ctx` came from `into_foreign` above and nvmet never
            // saw it, as registration failed.
            drop(unsafe { Arc::<Registry>::from_foreign(ctx) });
            return Err(e);
        }
        Ok(Self(()))
    }
}

impl Drop for Registration {
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
        drop(unsafe { Arc::<Registry>::from_foreign(ctx) });
    }
}

/// The registry, as borrowed by an entry point while the backend is
/// registered.
fn registry<'a>() -> ArcBorrow<'a, Registry> {
    // SAFETY: entry points run only while the backend is registered, and
    // the context is reclaimed only after unregistering (see `Registration`).
    unsafe { Arc::<Registry>::borrow(nvmet_mem_ctx()) }
}

/// A namespace that nvmet is enabling or disabling through this backend.
///
/// nvmet calls `enable` and `disable` with the subsystem lock held and no
/// I/O in flight, so the handle has exclusive use of the namespace for the
/// duration of the call, which its lifetime `'a` stands for. The identify
/// hook (`nvmet_mem_rs_used_blocks`) makes a handle for an enabled namespace
/// that a command holds a reference on, and only reads through it
/// ([`Namespace::bound`]), which is safe alongside I/O: the binding changes
/// only in `enable` and `disable`.
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

    /// Attaches the binding that I/O commands find through
    /// [`Request::bound`], until [`Namespace::take_bound`].
    pub(crate) fn set_bound(&mut self, bound: KBox<Bound>) {
        // SAFETY: exclusive use (type invariant); the namespace carries no
        // binding yet (`enable` attaches one, `disable` takes it back).
        unsafe { nvmet_mem_ns_set_data(self.ptr.as_ptr(), bound.into_foreign()) };
    }

    /// Detaches the binding attached by [`Namespace::set_bound`].
    pub(crate) fn take_bound(&mut self) -> Option<KBox<Bound>> {
        // SAFETY: exclusive use (type invariant).
        let p = unsafe { nvmet_mem_ns_data(self.ptr.as_ptr()) };
        // SAFETY: as above; clearing it first means it is reclaimed once.
        unsafe { nvmet_mem_ns_set_data(self.ptr.as_ptr(), ptr::null_mut()) };
        // SAFETY: a non-NULL pointer came from `into_foreign` in
        // `set_bound`; no request borrows it, as nvmet disables a namespace
        // only after every command on it has completed.
        unsafe { KBox::<Bound>::try_from_foreign(p) }
    }

    /// The binding attached by [`Namespace::set_bound`], if any.
    pub(crate) fn bound(&self) -> Option<&Bound> {
        // SAFETY: `self.ptr` is a valid namespace (type invariant).
        let p = unsafe { nvmet_mem_ns_data(self.ptr.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `set_bound` and is reclaimed only by
        // `take_bound`, which needs `&mut self`.
        Some(unsafe { KBox::<Bound>::borrow(p) })
    }
}

/// An I/O command that nvmet hands to this backend.
///
/// The request stays valid until it is completed; methods that hand it back
/// to nvmet consume the handle, so it cannot be used after completion.
pub(crate) struct Request<'a> {
    ptr: NonNull<RawReq>,
    _call: PhantomData<&'a mut RawReq>,
}

impl<'a> Request<'a> {
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

    /// The namespace binding of the namespace this command addresses.
    pub(crate) fn bound(&self) -> Option<&'a Bound> {
        // SAFETY: the request holds a reference on its namespace until it is
        // completed, which consumes `self`.
        let p = unsafe { nvmet_mem_req_ns_data(self.raw()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: `p` came from `Namespace::set_bound`; it is reclaimed only
        // when nvmet disables the namespace, after every command on it has
        // completed, so it outlives the request ('a).
        Some(unsafe { KBox::<Bound>::borrow(p) })
    }

    /// Makes nvmet call `nvmet_mem_rs_execute` for this command. With
    /// `inline` the caller promises that executing this command never
    /// sleeps, so a transport may execute it in its submission context
    /// (nvme-loop does, instead of a hop through a workqueue).
    pub(crate) fn set_execute(&self, inline: bool) {
        // SAFETY: a valid request being parsed.
        unsafe { nvmet_mem_req_set_execute(self.raw(), inline) };
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

    /// Whether `parse` marked this command inline (see
    /// [`Request::set_execute`]): it may be executing in atomic context and
    /// must not sleep.
    pub(crate) fn is_inline(&self) -> bool {
        // SAFETY: as in `opcode`.
        unsafe { nvmet_mem_req_inline(self.raw()) }
    }

    /// Records `slba` as the LBA of an error, with the SLBA field as its
    /// location in the command.
    pub(crate) fn set_error_slba(&self, slba: u64) {
        // SAFETY: a valid request, not yet completed.
        unsafe { nvmet_mem_req_error_slba(self.raw(), slba) };
    }

    /// Completes the command with `status`.
    pub(crate) fn complete(self, status: Status) {
        // SAFETY: a valid request, completed once: `self` is consumed.
        unsafe { nvmet_mem_req_complete(self.raw(), status) };
    }

    /// Rejects the command as Invalid Opcode, recording the error location.
    pub(crate) fn invalid_opcode(&self) -> Status {
        // SAFETY: a valid request being parsed.
        unsafe { nvmet_mem_req_invalid_opcode(self.raw()) }
    }

    /// Walks the command's data buffer in order, a mapped piece at a time,
    /// and calls `f` with each piece. With `to_sg` the pieces are written (a
    /// read command), else read.
    ///
    /// Where every page has a direct-map address and needs no cache
    /// maintenance after a write (64-bit, x86 among others), a piece is a
    /// whole scatterlist entry at that address; elsewhere `sg_miter` with
    /// `kmap_local` maps one page at a time.
    pub(crate) fn walk_sg(
        &self,
        to_sg: bool,
        mut f: impl FnMut(&mut SgChunk<'_>) -> Result<(), Status>,
    ) -> Result<(), Status> {
        let mut sg = ptr::null_mut();
        let mut cnt = 0u32;
        // SAFETY: a valid request; the C side writes only the two locals.
        if unsafe { nvmet_mem_req_sg_direct(self.raw(), &mut sg, &mut cnt) } {
            // SAFETY: the request's scatterlist, direct-mappable; its
            // transfer length was checked before any walk.
            return unsafe { walk_sg_direct(sg, cnt, f) };
        }
        let dir = if to_sg {
            bindings::SG_MITER_TO_SG
        } else {
            bindings::SG_MITER_FROM_SG
        };
        let mut miter = bindings::sg_mapping_iter::default();
        // SAFETY: a valid request whose transfer length was checked, so `sg`
        // holds `sg_cnt` entries describing its data buffer.
        unsafe { bindings::sg_miter_start(&mut miter, sg, cnt, bindings::SG_MITER_LOCAL | dir) };
        let mut res = Ok(());
        // SAFETY: `miter` was started above and is stopped below.
        while unsafe { bindings::sg_miter_next(&mut miter) } {
            let Some(addr) = NonNull::new(miter.addr.cast::<u8>()) else {
                break;
            };
            // INVARIANT: `sg_miter_next` mapped `length` bytes at `addr`
            // until the next call to `sg_miter_next`/`sg_miter_stop`; the
            // chunk is only lent to `f` for this iteration.
            let mut chunk = SgChunk {
                addr,
                len: miter.length,
                _map: PhantomData,
            };
            res = f(&mut chunk);
            if res.is_err() {
                break;
            }
        }
        // SAFETY: `miter` was started above; this unmaps the last piece.
        unsafe { bindings::sg_miter_stop(&mut miter) };
        res
    }
}

/// `Request::walk_sg` through the direct map: one piece per scatterlist
/// entry, at its direct-map address.
///
/// # Safety
///
/// `sg` and `cnt` must be the scatterlist of a request whose transfer length
/// was checked, as `nvmet_mem_req_sg_direct` returned them, and that function
/// must have returned true (no highmem, no cache maintenance needed).
unsafe fn walk_sg_direct(
    mut sg: *mut bindings::scatterlist,
    cnt: u32,
    mut f: impl FnMut(&mut SgChunk<'_>) -> Result<(), Status>,
) -> Result<(), Status> {
    for _ in 0..cnt {
        if sg.is_null() {
            break;
        }
        let mut addr = ptr::null_mut();
        let mut len = 0u32;
        // SAFETY: `sg` is one of the request's `cnt` entries (the first, or
        // what `sg_next` returned for the one before); the C side writes
        // only the two locals.
        sg = unsafe { nvmet_mem_sg_virt(sg, &mut addr, &mut len) };
        let Some(addr) = NonNull::new(addr.cast::<u8>()) else {
            return Err(crate::io::SC_INTERNAL);
        };
        // INVARIANT: without highmem the entry's `len` bytes at `addr` are
        // mapped (the direct map, caller) and belong to the data buffer,
        // which stays allocated until the request completes; the chunk is
        // only lent to `f` for this iteration.
        let mut chunk = SgChunk {
            addr,
            len: len as usize,
            _map: PhantomData,
        };
        f(&mut chunk)?;
    }
    Ok(())
}

/// One mapped piece of a request's data buffer.
///
/// # Invariants
///
/// `addr` points to `len` bytes that are mapped and belong to the request's
/// data buffer for the lifetime `'a`.
pub(crate) struct SgChunk<'a> {
    addr: NonNull<u8>,
    len: usize,
    _map: PhantomData<&'a mut [u8]>,
}

fn check(off: usize, len: usize, size: usize) -> Result<(), Status> {
    match off.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(crate::io::SC_INTERNAL),
    }
}

impl SgChunk<'_> {
    /// Length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Copies `len` bytes at `page_off` of `page` to `off` of the chunk.
    pub(crate) fn read_page(
        &mut self,
        off: usize,
        page: PageRef<'_>,
        page_off: usize,
        len: usize,
    ) -> Result<(), Status> {
        check(off, len, self.len)?;
        check(page_off, len, PAGE_SIZE)?;
        // The C side maps the page for the copy (`kmap_local_page`) and
        // copies a whole, page-aligned page with `copy_page`, else `memcpy`.
        // SAFETY: both ranges were checked to lie within the chunk's mapping
        // and the page (invariants of `SgChunk` and `PageRef`); a store page
        // and a data buffer never overlap.
        unsafe {
            nvmet_mem_copy_from_page(
                self.addr.as_ptr().add(off).cast(),
                page.page.as_ptr(),
                page_off,
                len,
            )
        };
        Ok(())
    }

    /// Copies `len` bytes at `off` of the chunk to `page_off` of `page`.
    pub(crate) fn write_page(
        &self,
        off: usize,
        page: PageRef<'_>,
        page_off: usize,
        len: usize,
    ) -> Result<(), Status> {
        check(off, len, self.len)?;
        check(page_off, len, PAGE_SIZE)?;
        // SAFETY: as in `read_page`.
        unsafe {
            nvmet_mem_copy_to_page(
                page.page.as_ptr(),
                page_off,
                self.addr.as_ptr().add(off).cast(),
                len,
            )
        };
        Ok(())
    }

    /// Fills `len` bytes at `off` with zeroes.
    pub(crate) fn zero(&mut self, off: usize, len: usize) -> Result<(), Status> {
        check(off, len, self.len)?;
        // SAFETY: the range was checked to lie within the mapping.
        unsafe { ptr::write_bytes(self.addr.as_ptr().add(off), 0, len) };
        Ok(())
    }

    /// Whether `len` bytes at `off` equal `len` bytes at `page_off` of
    /// `page`, or zeroes if `page` is `None`.
    pub(crate) fn equals(
        &self,
        off: usize,
        page: Option<PageRef<'_>>,
        page_off: usize,
        len: usize,
    ) -> Result<bool, Status> {
        check(off, len, self.len)?;
        check(page_off, len, PAGE_SIZE)?;
        // SAFETY: the range was checked to lie within the mapping; the
        // buffer is the command's own and nothing else writes it meanwhile.
        let mine = unsafe { core::slice::from_raw_parts(self.addr.as_ptr().add(off), len) };
        Ok(match page {
            None => mine.iter().all(|&b| b == 0),
            Some(page) => page.with_mapped(|p| {
                // SAFETY: as above, for the store page, which the caller
                // keeps from changing (it holds the store's lock).
                let theirs = unsafe { core::slice::from_raw_parts(p.add(page_off), len) };
                mine == theirs
            }),
        })
    }
}

/// A page of the store, owned; freed on drop.
///
/// # Invariants
///
/// `0` is a page allocated by `nvmet_mem_alloc_page` and owned by this value.
pub(crate) struct StorePage(NonNull<RawPage>);

// SAFETY: a page can be freed from any thread.
unsafe impl Send for StorePage {}

impl StorePage {
    /// Allocates a zeroed page on `nid` (or anywhere for -1), without
    /// recursing into I/O and without a warning on failure; without
    /// `may_sleep` also without sleeping (and so more likely to fail).
    pub(crate) fn alloc(nid: i32, may_sleep: bool) -> Result<Self, AllocError> {
        // SAFETY: the C side range-checks `nid` through the page allocator;
        // it sleeps only if `may_sleep`, which the caller sets only in
        // process context.
        let page = unsafe { nvmet_mem_alloc_page(nid, may_sleep) };
        NonNull::new(page).map(Self).ok_or(AllocError)
    }

    /// A borrowed reference to the page.
    pub(crate) fn as_ref(&self) -> PageRef<'_> {
        PageRef {
            page: self.0,
            _owner: PhantomData,
        }
    }
}

impl Drop for StorePage {
    fn drop(&mut self) {
        // SAFETY: we own the page (type invariant).
        unsafe { nvmet_mem_free_page(self.0.as_ptr()) };
    }
}

// SAFETY: `into_foreign` returns the `struct page` pointer, which is aligned
// to `struct page` (at least 8 bytes, as the XArray needs 4), and
// `from_foreign`/`borrow` turn it back into an owner or a borrow.
unsafe impl ForeignOwnable for StorePage {
    const FOREIGN_ALIGN: usize = core::mem::align_of::<bindings::page>();
    type Borrowed<'a> = PageRef<'a>;
    type BorrowedMut<'a> = PageRef<'a>;

    fn into_foreign(self) -> *mut c_void {
        let p = self.0.as_ptr();
        core::mem::forget(self);
        p.cast()
    }

    unsafe fn from_foreign(ptr: *mut c_void) -> Self {
        // SAFETY: by the trait's contract `ptr` came from `into_foreign`,
        // so it is a non-NULL page that we own again.
        Self(unsafe { NonNull::new_unchecked(ptr.cast()) })
    }

    unsafe fn borrow<'a>(ptr: *mut c_void) -> PageRef<'a> {
        PageRef {
            // SAFETY: as in `from_foreign`; the owner outlives 'a by the
            // trait's contract.
            page: unsafe { NonNull::new_unchecked(ptr.cast()) },
            _owner: PhantomData,
        }
    }

    unsafe fn borrow_mut<'a>(ptr: *mut c_void) -> PageRef<'a> {
        // SAFETY: same contract as `borrow`.
        unsafe { Self::borrow(ptr) }
    }
}

/// A borrowed store page.
///
/// # Invariants
///
/// `page` is a valid page that stays allocated for `'a`.
#[derive(Clone, Copy)]
pub(crate) struct PageRef<'a> {
    page: NonNull<RawPage>,
    _owner: PhantomData<&'a StorePage>,
}

impl PageRef<'_> {
    fn with_mapped<T>(&self, f: impl FnOnce(*mut u8) -> T) -> T {
        // SAFETY: a valid page (type invariant); mapped for the closure only.
        let addr = unsafe { bindings::kmap_local_page(self.page.as_ptr().cast()) };
        let res = f(addr.cast());
        // SAFETY: unmaps what was mapped above, in reverse order of mapping,
        // as the closure cannot leak a nested local mapping.
        unsafe { bindings::kunmap_local(addr) };
        res
    }

    /// Fills `len` bytes at `off` with zeroes.
    pub(crate) fn zero(&self, off: usize, len: usize) -> Result<(), Status> {
        check(off, len, PAGE_SIZE)?;
        self.with_mapped(|p| {
            // SAFETY: the range was checked to lie within the page.
            unsafe { ptr::write_bytes(p.add(off), 0, len) }
        });
        Ok(())
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
    match crate::backend::enable(&registry(), &mut ns) {
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

/// Blocks backed by pages, for Identify Namespace (NUSE).
#[no_mangle]
extern "C" fn nvmet_mem_rs_used_blocks(ns: *mut RawNs) -> u64 {
    match NonNull::new(ns) {
        Some(ptr) => crate::backend::used_blocks(&Namespace {
            ptr,
            _call: PhantomData,
        }),
        None => 0,
    }
}

/// nvmet's `parse_io_cmd` operation; returns an NVMe status.
#[no_mangle]
extern "C" fn nvmet_mem_rs_parse_io_cmd(req: *mut RawReq) -> u16 {
    match NonNull::new(req) {
        Some(ptr) => crate::io::parse(&Request {
            ptr,
            _call: PhantomData,
        }),
        None => crate::io::SC_INTERNAL,
    }
}

/// The `execute` callback that `parse` installs.
#[no_mangle]
extern "C" fn nvmet_mem_rs_execute(req: *mut RawReq) {
    if let Some(ptr) = NonNull::new(req) {
        crate::io::execute(Request {
            ptr,
            _call: PhantomData,
        });
    }
}
