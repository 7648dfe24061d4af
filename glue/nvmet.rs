// SPDX-License-Identifier: GPL-2.0

//! nvmet handles: the backend registration, a namespace being enabled or
//! disabled, a namespace read by Identify, and an I/O command.
//!
//! The handles are generic over `D`, the backend's per-namespace data
//! that a namespace carries from `enable` to `disable` and that every
//! command on it can borrow; the entry points fix `D` once for the crate.

use super::sg::{Direction, SgCursor};
use crate::nvme::Status;
use core::ffi::c_void;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicPtr, Ordering};
use kernel::bindings;
use kernel::error::{to_result, VTABLE_DEFAULT_ERROR};
use kernel::prelude::*;
use kernel::scatterlist::SgMiter;
use kernel::sync::atomic::{Atomic, Relaxed};
use kernel::time::hrtimer::{
    DetachedHrTimerCallback, HrTimer, HrTimerDetachedPointer, RelativeSoftMode,
};
use kernel::time::{Delta, Monotonic};
use kernel::types::ForeignOwnable;

/// nvmet's `struct nvmet_ns`, as bindgen sees it in nvmet.h.
pub(crate) type RawNs = bindings::nvmet_ns;

/// nvmet's `struct nvmet_req`, as bindgen sees it in nvmet.h.
pub(crate) type RawReq = bindings::nvmet_req;

/// A size as nvmet's `loff_t` holds it (configfs keeps an object's size
/// at or below `i64::MAX`, so this saturates only in theory).
fn loff(size: u64) -> bindings::loff_t {
    bindings::loff_t::try_from(size).unwrap_or(bindings::loff_t::MAX)
}

/// What Identify reports of a namespace, as a backend's
/// [`Operations::ns_info`] fills it in (nvmet's `struct nvmet_ns_info`).
#[derive(Default)]
pub(crate) struct NsInfo {
    /// Blocks in use (NUSE), for a thin namespace.
    pub(crate) nuse: u64,
    /// Thin provisioning: NUSE is meaningful.
    pub(crate) thin: bool,
    /// Deallocate Logical Block Features (DLFEAT).
    pub(crate) dlfeat: u8,
    /// The namespace is on rotational media.
    pub(crate) rotational: bool,
    /// There is no volatile write cache that Flush would write back.
    pub(crate) no_volatile_write_cache: bool,
    /// Atomic write unit in blocks (0: one block).
    pub(crate) atomic_blocks: u32,
    /// Preferred write granularity in blocks (0: none).
    pub(crate) write_blocks: u32,
    /// Deallocate granularity in blocks (0: none).
    pub(crate) dealloc_blocks: u32,
    /// Optimal write size in blocks (0: none).
    pub(crate) opt_write_blocks: u32,
}

/// The operations of a namespace backend, which [`Registration`] puts in
/// the `struct nvmet_backend_ops` it registers with nvmet.
///
/// nvmet calls them for the namespaces that select the backend by
/// [`Operations::NAME`]: `enable` and `disable` with the subsystem lock
/// held and no I/O in flight, the others for an enabled namespace.
#[vtable]
pub(crate) trait Operations: Sized {
    /// The registration's context, which `enable` and `disable` borrow.
    type Context: ForeignOwnable + Send + Sync;
    /// A namespace's data, attached by `enable`, taken back by `disable`.
    /// Commands on every queue borrow it at once, and `disable` may drop
    /// it on another thread than `enable` made it on.
    type NsData: ForeignOwnable + Send + Sync;
    /// The name namespaces select the backend by (their `backend`
    /// attribute).
    const NAME: &'static CStr;
    /// The optional NVM commands the backend serves (ONCS bits).
    const ONCS: u16;

    /// Opens what the namespace's `device_path` names and sets its
    /// geometry; returns the data to attach to it (`ENOTBLK` if the path is
    /// not the backend's).
    fn enable(
        ctx: <Self::Context as ForeignOwnable>::Borrowed<'_>,
        ns: &mut Namespace<'_, Self::NsData>,
    ) -> Result<Self::NsData>;

    /// Undoes `enable`; every command on the namespace has completed.
    fn disable(
        ctx: <Self::Context as ForeignOwnable>::Borrowed<'_>,
        ns: &mut Namespace<'_, Self::NsData>,
    );

    /// Parses an I/O command: installs its [`Execute`] callback with
    /// [`Parse::set_execute`], or returns the status to fail it with.
    fn parse_io_cmd(req: &Parse<'_, Self>) -> Result<(), Status>;

    /// Updates the namespace's size from what backs it.
    fn revalidate(ns: &NamespaceRef<'_, Self::NsData>);

    /// Fills in what Identify reports of the namespace; without it, nvmet
    /// reports nothing beyond the size.
    fn ns_info(_ns: &NamespaceRef<'_, Self::NsData>, _info: &mut NsInfo) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// How the backend `T` executes a command: what nvmet calls for a command
/// that `T::parse_io_cmd` installed it for with [`Parse::set_execute`]
/// (once, or a second time after [`Request::defer`]).
pub(crate) trait Execute<T: Operations> {
    /// Whether `execute` honours [`Request::nowait`]: called with it set,
    /// it completes the command without sleeping or hands it to
    /// [`Request::defer`]. nvme-loop then calls it from its submission
    /// context; otherwise transports call it where it may sleep.
    const NOWAIT_CAPABLE: bool;

    /// Executes the command.
    fn execute(req: Executing<'_, T>);
}

/// A command being parsed by the backend `T`: what `T::parse_io_cmd`
/// reads the command from (through [`Request`]'s shared methods) and
/// installs its [`Execute`] callback on. Only the `parse_io_cmd`
/// trampoline of the registered backend makes one.
pub(crate) struct Parse<'a, T: Operations> {
    req: Request<'a, T::NsData>,
}

impl<'a, T: Operations> core::ops::Deref for Parse<'a, T> {
    type Target = Request<'a, T::NsData>;

    fn deref(&self) -> &Self::Target {
        &self.req
    }
}

impl<T: Operations> Parse<'_, T> {
    /// Makes nvmet execute this command with `E`.
    pub(crate) fn set_execute<E: Execute<T>>(&self) {
        let req = self.req.raw();
        // SAFETY: a valid request being parsed (only the `parse_io_cmd`
        // trampoline makes a `Parse`): nvmet reads these after it returns.
        unsafe {
            (*req).execute = Some(OperationsVTable::<T>::execute::<E>);
            (*req).nowait_capable = E::NOWAIT_CAPABLE;
        }
    }
}

/// A command that nvmet executes with the backend `T`: what an
/// [`Execute`] callback gets. It lends the backend's context for as long
/// as it is not turned into its [`Request`]: once the command can
/// complete, nothing keeps the registration, and so the context, alive
/// (disabling the last namespace lets the module exit).
pub(crate) struct Executing<'a, T: Operations> {
    req: Request<'a, T::NsData>,
}

impl<'a, T: Operations> Executing<'a, T> {
    /// The backend's context, lent while the command is not completed.
    pub(crate) fn context(&self) -> <T::Context as ForeignOwnable>::Borrowed<'_> {
        // Only `T`'s `execute` trampoline makes an `Executing`; until the
        // request, which needs `self` back, completes, its reference on its
        // namespace keeps the module, and so the registration, alive.
        // SAFETY: an operation of the registered `T`; the borrow ends first.
        unsafe { OperationsVTable::<T>::context() }
    }

    /// The command, to execute.
    pub(crate) fn into_request(self) -> Request<'a, T::NsData> {
        self.req
    }
}

/// The registered backend's context, which its operations borrow: set
/// before its ops table is registered, cleared once it is not. A module
/// registers one backend (a second registration fails with `EBUSY`).
static CONTEXT: AtomicPtr<c_void> = AtomicPtr::new(ptr::null_mut());

/// The trampolines from nvmet's ops table to [`Operations`].
struct OperationsVTable<T: Operations>(PhantomData<T>);

impl<T: Operations> OperationsVTable<T> {
    /// The context, as borrowed by an operation.
    ///
    /// # Safety
    ///
    /// The caller is an operation of the registered backend `T`, and the
    /// borrow ends before what keeps the registration does: the operation
    /// returns, or its command, whose reference on an enabled namespace
    /// pins the module (whose exit drops the registration), completes.
    /// nvmet calls an operation only while the backend is registered or a
    /// namespace that uses it is enabled.
    unsafe fn context<'a>() -> <T::Context as ForeignOwnable>::Borrowed<'a> {
        let p = CONTEXT.load(Ordering::Acquire);
        debug_assert!(!p.is_null());
        // SAFETY: set in `Registration::new` from `T::Context::into_foreign`
        // and reclaimed only after unregistering (caller's guarantee).
        unsafe { T::Context::borrow(p) }
    }

    /// # Safety
    ///
    /// nvmet calls this, with a namespace it is enabling, as the `enable`
    /// operation of the registered backend `T`.
    unsafe extern "C" fn enable(ns: *mut RawNs) -> c_int {
        let Some(ptr) = NonNull::new(ns) else {
            return EINVAL.to_errno();
        };
        // SAFETY: exclusive use under the subsystem lock for the call; the
        // namespace carries no backend data before `enable`.
        let mut ns = unsafe { Namespace::<T::NsData>::from_raw(ptr) };
        // SAFETY: an operation of `T`; the borrow ends with the call.
        let ctx = unsafe { Self::context() };
        match T::enable(ctx, &mut ns) {
            Ok(data) => {
                ns.set_data(data);
                0
            }
            Err(e) => e.to_errno(),
        }
    }

    /// # Safety
    ///
    /// nvmet calls this, with a namespace that `enable` enabled, as the
    /// `disable` operation of the registered backend `T`.
    unsafe extern "C" fn disable(ns: *mut RawNs) {
        if let Some(ptr) = NonNull::new(ns) {
            // SAFETY: as in `enable`; the namespace's data is what `enable`
            // attached, and nvmet disables it after every command on it has
            // completed.
            let mut ns = unsafe { Namespace::<T::NsData>::from_raw(ptr) };
            // SAFETY: as in `enable`.
            let ctx = unsafe { Self::context() };
            T::disable(ctx, &mut ns);
        }
    }

    /// # Safety
    ///
    /// nvmet calls this, with a new I/O command on a namespace of `T`, as
    /// its `parse_io_cmd` operation.
    unsafe extern "C" fn parse_io_cmd(req: *mut RawReq) -> u16 {
        let Some(ptr) = NonNull::new(req) else {
            return crate::nvme::SC_INTERNAL;
        };
        // SAFETY: a request nvmet passes to the backend, not completed, on
        // a namespace enabled through `T`, whose data came from `enable`.
        let req = unsafe { Request::from_raw(ptr) };
        match T::parse_io_cmd(&Parse::<T> { req }) {
            Ok(()) => 0,
            Err(status) => status,
        }
    }

    /// # Safety
    ///
    /// nvmet calls this, as `req->execute`, with a request that
    /// `T::parse_io_cmd` installed it for and that is not completed.
    unsafe extern "C" fn execute<E: Execute<T>>(req: *mut RawReq) {
        if let Some(ptr) = NonNull::new(req) {
            // SAFETY: the caller's guarantee; the request's namespace was
            // enabled through `T`, so its data came from `enable`.
            let req = unsafe { Request::from_raw(ptr) };
            E::execute(Executing::<T> { req });
        }
    }

    /// # Safety
    ///
    /// nvmet calls this, with an enabled namespace of `T` that stays
    /// enabled meanwhile, as its `revalidate` operation.
    unsafe extern "C" fn revalidate(ns: *mut RawNs) {
        if let Some(ptr) = NonNull::new(ns) {
            // SAFETY: the caller's guarantee; its data came from `enable`.
            let ns = unsafe { NamespaceRef::<T::NsData>::from_raw(ptr) };
            T::revalidate(&ns);
        }
    }

    /// # Safety
    ///
    /// nvmet calls this, from Identify, with an enabled namespace of `T`
    /// that the command holds a reference on, and `info` zeroed.
    unsafe extern "C" fn ns_info(ns: *mut RawNs, info: *mut bindings::nvmet_ns_info) {
        let (Some(ptr), false) = (NonNull::new(ns), info.is_null()) else {
            return;
        };
        // SAFETY: the caller's guarantee; its data came from `enable`.
        let ns = unsafe { NamespaceRef::<T::NsData>::from_raw(ptr) };
        let mut i = NsInfo::default();
        T::ns_info(&ns, &mut i);
        // SAFETY: `info` is valid for writes for the call (caller's
        // guarantee), and nothing else reads or writes it meanwhile.
        unsafe {
            info.write(bindings::nvmet_ns_info {
                nuse: i.nuse,
                thin: i.thin,
                dlfeat: i.dlfeat,
                rotational: i.rotational,
                no_volatile_write_cache: i.no_volatile_write_cache,
                atomic_blocks: i.atomic_blocks,
                write_blocks: i.write_blocks,
                dealloc_blocks: i.dealloc_blocks,
                opt_write_blocks: i.opt_write_blocks,
            })
        };
    }

    const VTABLE: bindings::nvmet_backend_ops = bindings::nvmet_backend_ops {
        name: kernel::str::as_char_ptr_in_const_context(T::NAME),
        owner: kernel::module::this_module::<crate::LocalModule>().as_ptr(),
        enable: Some(Self::enable),
        disable: Some(Self::disable),
        parse_io_cmd: Some(Self::parse_io_cmd),
        revalidate: Some(Self::revalidate),
        flush: None,
        ns_info: if T::HAS_NS_INFO {
            Some(Self::ns_info)
        } else {
            None
        },
        oncs: T::ONCS,
    };

    /// The ops table, a constant of this module (promoted to `'static`).
    const fn build() -> &'static bindings::nvmet_backend_ops {
        &Self::VTABLE
    }
}

/// A backend's registration with nvmet; dropping it unregisters.
///
/// # Invariants
///
/// `ops` is registered, and [`CONTEXT`] holds the context that `new` took,
/// from `T::Context::into_foreign`. The handle is dropped only when no
/// namespace can use the backend (the safety requirement of `new`).
pub(crate) struct Registration<T: Operations> {
    // nvmet finds the table to unregister by its address: keep the one
    // registered (a constant promoted at two places need not be one).
    ops: &'static bindings::nvmet_backend_ops,
    _t: PhantomData<T>,
}

// SAFETY: the handle only keeps the address of a constant ops table, which
// nothing writes, and nvmet registers and unregisters from any thread.
unsafe impl<T: Operations> Send for Registration<T> {}

// SAFETY: as for `Send`; a shared handle offers nothing.
unsafe impl<T: Operations> Sync for Registration<T> {}

impl<T: Operations> Registration<T> {
    /// Registers the backend `T` with `ctx` as its context.
    ///
    /// # Safety
    ///
    /// The registration is dropped only when no namespace can use the
    /// backend any more: by the module's exit (each enabled namespace pins
    /// the module), as dropping it frees the context that the operations
    /// of enabled namespaces borrow.
    pub(crate) unsafe fn new(ctx: T::Context) -> Result<Self> {
        let p = ctx.into_foreign();
        if CONTEXT
            .compare_exchange(ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // SAFETY: `p` came from `into_foreign` above and was never shared.
            drop(unsafe { T::Context::from_foreign(p) });
            return Err(EBUSY);
        }
        let ops = OperationsVTable::<T>::build();
        // SAFETY: `ops` is a constant of this module with every mandatory
        // operation set, so it outlives the registration, which `Drop`
        // removes (an enabled namespace pins the module).
        let ret = unsafe { bindings::nvmet_register_backend(ops) };
        if let Err(e) = to_result(ret) {
            CONTEXT.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: `p` came from `into_foreign` above, and nvmet never
            // called an operation, as registration failed.
            drop(unsafe { T::Context::from_foreign(p) });
            return Err(e);
        }
        pr_info!("registered backend {}\n", T::NAME);
        // INVARIANT: `ops` is registered, with the context in `CONTEXT`.
        Ok(Self {
            ops,
            _t: PhantomData,
        })
    }
}

impl<T: Operations> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: `new` registered `self.ops` (type invariant).
        unsafe { bindings::nvmet_unregister_backend(self.ops) };
        pr_info!("unregistered backend {}\n", T::NAME);
        // No operation can borrow the context any more: the backend is
        // unregistered and no namespace uses it (type invariant).
        let p = CONTEXT.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: `p` is NULL or came from `into_foreign` in `new` (type
        // invariant), and nothing borrows it (above).
        drop(unsafe { T::Context::try_from_foreign(p) });
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
    /// until [`Namespace::take_data`]: what `enable` returned.
    fn set_data(&mut self, data: D) {
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

    /// The logical block size, as a shift.
    pub(crate) fn blksize_shift(&self) -> u32 {
        // SAFETY: `self.ptr` is a valid namespace (type invariant), whose
        // block size is set by `enable` and does not change while enabled.
        unsafe { (*self.ptr.as_ptr()).blksize_shift }
    }

    /// Sets the size in bytes, as nvmet's `revalidate` operation does.
    pub(crate) fn set_size(&self, size: u64) {
        // nvmet calls `revalidate` with no more locking than its caller
        // holds (none from Identify), and reads the field plainly, as after
        // the bdev and file backends' plain stores: store it untorn, as
        // WRITE_ONCE() would.
        // SAFETY: `self.ptr` is a valid namespace (type invariant) whose
        // `size` is aligned and lives while it is enabled; nvmet's other
        // accesses are the C side's, as above.
        unsafe { Atomic::from_ptr(&raw mut (*self.ptr.as_ptr()).size) }.store(loff(size), Relaxed);
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
    /// completes (nvmet-rdma reposts its receive buffer from the
    /// completion), which needs `self` back.
    fn cmd(&self) -> &bindings::nvme_command {
        // SAFETY: a valid request (type invariant); its `cmd` is valid and
        // unchanging while `self` is borrowed (see above).
        unsafe { &*(*self.raw()).cmd }
    }

    /// The command's opcode.
    pub(crate) fn opcode(&self) -> u8 {
        // SAFETY: the union's members are plain integers, valid for any
        // bits; the opcode is at the same place in each.
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

    /// Whether `execute` runs in a context that must not sleep: the
    /// command must complete without sleeping or be handed to
    /// [`Request::defer`]. Only the transport knows, and says so in
    /// `req->nowait` (nvme-loop, for a backend that is nowait capable);
    /// otherwise nvmet calls `execute` where it may sleep, as the bdev and
    /// file backends, which allocate with `GFP_KERNEL` there, rely on.
    pub(crate) fn nowait(&self) -> bool {
        // SAFETY: a valid request, whose `nowait` only its transport and
        // `nvmet_req_defer` (before calling `execute`) write.
        unsafe { (*self.raw()).nowait }
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
    /// from a soft timer, without blocking the caller. The command keeps its
    /// queue's and namespace's references until then, so deleting either
    /// waits for it. Hands the command back if no timer could be allocated
    /// (without waiting, where [`Request::nowait`] holds).
    pub(crate) fn complete_after(self, status: Status, delay_ns: u64) -> Result<(), Self>
    where
        D: Sync + 'static,
    {
        let gfp = if self.nowait() { GFP_NOWAIT } else { GFP_NOIO };
        let delayed = KBox::pin_init(
            pin_init!(Delayed {
                timer <- HrTimer::new(),
                req: None,
                status,
            }),
            gfp | __GFP_NOWARN,
        );
        let Ok(mut delayed) = delayed else {
            return Err(self);
        };
        *delayed.as_mut().project().req = Some(self.hold());
        delayed.start_detached(Delta::from_nanos(
            i64::try_from(delay_ns).unwrap_or(i64::MAX),
        ));
        Ok(())
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
/// [`crate::hold`]). It holds its queue's and namespace's
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
// handle is its only user. What it lends on another thread, once resumed,
// is a borrow of the namespace's data, which other CPUs' commands borrow
// at the same time: hence `D: Sync`.
unsafe impl<D: ForeignOwnable + Sync> Send for HeldRequest<D> {}

impl<D: ForeignOwnable> HeldRequest<D> {
    /// 0 while the command's queue and namespace live; otherwise the status
    /// to complete it with, at once, as their deletion waits for it.
    pub(crate) fn ending(&self) -> Status {
        // SAFETY: a valid request (type invariant); its queue and namespace
        // are alive, as it holds references on both.
        unsafe { bindings::nvmet_mem_req_ending(self.ptr.as_ptr()) }
    }

    /// Completes the command with `status`, from any context.
    pub(crate) fn complete(self, status: Status) {
        self.resume(|req| req.complete(status))
    }

    /// Gives the command back to `f`, for executing it in process
    /// context. The request lives for the call only, as it would in an
    /// `execute` callback: nothing borrowed from it outlives `f`.
    pub(crate) fn resume<R>(self, f: impl FnOnce(Request<'_, D>) -> R) -> R {
        let this = core::mem::ManuallyDrop::new(self);
        // INVARIANT: the request is not completed and the handle that owned
        // it is forgotten, so the request's only user is the new one.
        f(Request {
            ptr: this.ptr,
            _call: PhantomData,
        })
    }
}

/// A command that a timer completes (see [`Request::complete_after`]).
#[pin_data]
struct Delayed<D: ForeignOwnable> {
    #[pin]
    timer: HrTimer<Self>,
    req: Option<HeldRequest<D>>,
    status: Status,
}

kernel::impl_has_hr_timer! {
    impl{D: ForeignOwnable} HasHrTimer<Self> for Delayed<D> {
        mode: RelativeSoftMode<Monotonic>,
        field: self.timer
    }
}

impl<D: ForeignOwnable + Sync + 'static> DetachedHrTimerCallback for Delayed<D> {
    fn run(mut this: Pin<KBox<Self>>) {
        let (req, status) = {
            let this = this.as_mut().project();
            (this.req.take(), *this.status)
        };
        // The timer goes before the command completes, which may let its
        // namespace be disabled and this module exit: the rest of the
        // callback runs with bottom halves disabled, an RCU read-side
        // critical section, which `free_module()` waits for.
        drop(this);
        if let Some(req) = req {
            req.complete(status);
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
