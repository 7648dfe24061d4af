// SPDX-License-Identifier: GPL-2.0

//! Abstractions for scatter-gather lists.
//!
//! C header: [`include/linux/scatterlist.h`](srctree/include/linux/scatterlist.h)
//!
//! Scatter-gather (SG) I/O is a memory access technique that allows devices to perform DMA
//! operations on data buffers that are not physically contiguous in memory. It works by creating a
//! "scatter-gather list", an array where each entry specifies the address and length of a
//! physically contiguous memory segment.
//!
//! The device's DMA controller can then read this list and process the segments sequentially as
//! part of one logical I/O request. This avoids the need for a single, large, physically contiguous
//! memory buffer, which can be difficult or impossible to allocate.
//!
//! This module provides safe Rust abstractions over the kernel's `struct scatterlist` and
//! `struct sg_table` types.
//!
//! The main entry point is the [`SGTable`] type, which represents a complete scatter-gather table.
//! It can be either:
//!
//! - An owned table ([`SGTable<Owned<P>>`]), created from a Rust memory buffer (e.g., [`VVec`]).
//!   This type manages the allocation of the `struct sg_table`, the DMA mapping of the buffer, and
//!   the automatic cleanup of all resources.
//! - A borrowed reference (&[`SGTable`]), which provides safe, read-only access to a table that was
//!   allocated by other (e.g., C) code.
//!
//! Individual entries in the table are represented by [`SGEntry`], which can be accessed by
//! iterating over an [`SGTable`].

use crate::{
    alloc,
    alloc::allocator::VmallocPageIter,
    bindings,
    device::{Bound, Device},
    devres::Devres,
    dma, error,
    io::ResourceSize,
    page,
    prelude::*,
    sync::aref::ARef,
    types::Opaque,
};
use core::{marker::PhantomData, ops::Deref, ptr::NonNull};

/// A single entry in a scatter-gather list.
///
/// An `SGEntry` represents a single, physically contiguous segment of memory that has been mapped
/// for DMA.
///
/// Instances of this struct are obtained by iterating over an [`SGTable`]. Drivers do not create
/// or own [`SGEntry`] objects directly.
#[repr(transparent)]
pub struct SGEntry(Opaque<bindings::scatterlist>);

// SAFETY: `SGEntry` can be sent to any task.
unsafe impl Send for SGEntry {}

// SAFETY: `SGEntry` has no interior mutability and can be accessed concurrently.
unsafe impl Sync for SGEntry {}

impl SGEntry {
    /// Convert a raw `struct scatterlist *` to a `&'a SGEntry`.
    ///
    /// # Safety
    ///
    /// Callers must ensure that the `struct scatterlist` pointed to by `ptr` is valid for the
    /// lifetime `'a`.
    #[inline]
    unsafe fn from_raw<'a>(ptr: *mut bindings::scatterlist) -> &'a Self {
        // SAFETY: The safety requirements of this function guarantee that `ptr` is a valid pointer
        // to a `struct scatterlist` for the duration of `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Obtain the raw `struct scatterlist *`.
    #[inline]
    fn as_raw(&self) -> *mut bindings::scatterlist {
        self.0.get()
    }

    /// Returns the DMA address of this SG entry.
    ///
    /// This is the address that the device should use to access the memory segment.
    #[inline]
    pub fn dma_address(&self) -> dma::DmaAddress {
        // SAFETY: `self.as_raw()` is a valid pointer to a `struct scatterlist`.
        unsafe { bindings::sg_dma_address(self.as_raw()) }
    }

    /// Returns the length of this SG entry in bytes.
    #[inline]
    pub fn dma_len(&self) -> ResourceSize {
        #[allow(clippy::useless_conversion)]
        // SAFETY: `self.as_raw()` is a valid pointer to a `struct scatterlist`.
        unsafe { bindings::sg_dma_len(self.as_raw()) }.into()
    }
}

/// The borrowed generic type of an [`SGTable`], representing a borrowed or externally managed
/// table.
#[repr(transparent)]
pub struct Borrowed(Opaque<bindings::sg_table>);

// SAFETY: `Borrowed` can be sent to any task.
unsafe impl Send for Borrowed {}

// SAFETY: `Borrowed` has no interior mutability and can be accessed concurrently.
unsafe impl Sync for Borrowed {}

/// A scatter-gather table.
///
/// This struct is a wrapper around the kernel's `struct sg_table`. It manages a list of DMA-mapped
/// memory segments that can be passed to a device for I/O operations.
///
/// The generic parameter `T` is used as a generic type to distinguish between owned and borrowed
/// tables.
///
///  - [`SGTable<Owned>`]: An owned table created and managed entirely by Rust code. It handles
///    allocation, DMA mapping, and cleanup of all associated resources. See [`SGTable::new`].
///  - [`SGTable<Borrowed>`} (or simply [`SGTable`]): Represents a table whose lifetime is managed
///    externally. It can be used safely via a borrowed reference `&'a SGTable`, where `'a` is the
///    external lifetime.
///
/// All [`SGTable`] variants can be iterated over the individual [`SGEntry`]s.
#[repr(transparent)]
#[pin_data]
pub struct SGTable<T: private::Sealed = Borrowed> {
    #[pin]
    inner: T,
}

impl SGTable {
    /// Creates a borrowed `&'a SGTable` from a raw `struct sg_table` pointer.
    ///
    /// This allows safe access to an `sg_table` that is managed elsewhere (for example, in C code).
    ///
    /// # Safety
    ///
    /// Callers must ensure that:
    ///
    /// - the `struct sg_table` pointed to by `ptr` is valid for the entire lifetime of `'a`,
    /// - the data behind `ptr` is not modified concurrently for the duration of `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::sg_table) -> &'a Self {
        // SAFETY: The safety requirements of this function guarantee that `ptr` is a valid pointer
        // to a `struct sg_table` for the duration of `'a`.
        unsafe { &*ptr.cast() }
    }

    #[inline]
    fn as_raw(&self) -> *mut bindings::sg_table {
        self.inner.0.get()
    }

    /// Returns an [`SGTableIter`] bound to the lifetime of `self`.
    pub fn iter(&self) -> SGTableIter<'_> {
        // SAFETY: `self.as_raw()` is a valid pointer to a `struct sg_table`.
        let nents = unsafe { (*self.as_raw()).nents };

        let pos = if nents > 0 {
            // SAFETY: `self.as_raw()` is a valid pointer to a `struct sg_table`.
            let ptr = unsafe { (*self.as_raw()).sgl };

            // SAFETY: `ptr` is guaranteed to be a valid pointer to a `struct scatterlist`.
            Some(unsafe { SGEntry::from_raw(ptr) })
        } else {
            None
        };

        SGTableIter { pos, nents }
    }
}

/// Represents the DMA mapping state of a `struct sg_table`.
///
/// This is used as an inner type of [`Owned`] to manage the DMA mapping lifecycle.
///
/// # Invariants
///
/// - `sgt` is a valid pointer to a `struct sg_table` for the entire lifetime of the
///   [`DmaMappedSgt`].
/// - `sgt` is always DMA mapped.
struct DmaMappedSgt {
    sgt: NonNull<bindings::sg_table>,
    dev: ARef<Device>,
    dir: dma::DataDirection,
}

// SAFETY: `DmaMappedSgt` can be sent to any task.
unsafe impl Send for DmaMappedSgt {}

// SAFETY: `DmaMappedSgt` has no interior mutability and can be accessed concurrently.
unsafe impl Sync for DmaMappedSgt {}

impl DmaMappedSgt {
    /// # Safety
    ///
    /// - `sgt` must be a valid pointer to a `struct sg_table` for the entire lifetime of the
    ///   returned [`DmaMappedSgt`].
    /// - The caller must guarantee that `sgt` remains DMA mapped for the entire lifetime of
    ///   [`DmaMappedSgt`].
    unsafe fn new(
        sgt: NonNull<bindings::sg_table>,
        dev: &Device<Bound>,
        dir: dma::DataDirection,
    ) -> Result<Self> {
        // SAFETY:
        // - `dev.as_raw()` is a valid pointer to a `struct device`, which is guaranteed to be
        //   bound to a driver for the duration of this call.
        // - `sgt` is a valid pointer to a `struct sg_table`.
        error::to_result(unsafe {
            bindings::dma_map_sgtable(dev.as_raw(), sgt.as_ptr(), dir.into(), 0)
        })?;

        // INVARIANT: By the safety requirements of this function it is guaranteed that `sgt` is
        // valid for the entire lifetime of this object instance.
        Ok(Self {
            sgt,
            dev: dev.into(),
            dir,
        })
    }
}

impl Drop for DmaMappedSgt {
    #[inline]
    fn drop(&mut self) {
        // SAFETY:
        // - `self.dev.as_raw()` is a pointer to a valid `struct device`.
        // - `self.dev` is the same device the mapping has been created for in `Self::new()`.
        // - `self.sgt.as_ptr()` is a valid pointer to a `struct sg_table` by the type invariants
        //   of `Self`.
        // - `self.dir` is the same `dma::DataDirection` the mapping has been created with in
        //   `Self::new()`.
        unsafe {
            bindings::dma_unmap_sgtable(self.dev.as_raw(), self.sgt.as_ptr(), self.dir.into(), 0)
        };
    }
}

/// A transparent wrapper around a `struct sg_table`.
///
/// While we could also create the `struct sg_table` in the constructor of [`Owned`], we can't tear
/// down the `struct sg_table` in [`Owned::drop`]; the drop order in [`Owned`] matters.
#[repr(transparent)]
struct RawSGTable(Opaque<bindings::sg_table>);

// SAFETY: `RawSGTable` can be sent to any task.
unsafe impl Send for RawSGTable {}

// SAFETY: `RawSGTable` has no interior mutability and can be accessed concurrently.
unsafe impl Sync for RawSGTable {}

impl RawSGTable {
    /// # Safety
    ///
    /// - `pages` must be a slice of valid `struct page *`.
    /// - The pages pointed to by `pages` must remain valid for the entire lifetime of the returned
    ///   [`RawSGTable`].
    unsafe fn new(
        pages: &mut [*mut bindings::page],
        size: usize,
        max_segment: u32,
        flags: alloc::Flags,
    ) -> Result<Self> {
        // `sg_alloc_table_from_pages_segment()` expects at least one page, otherwise it
        // produces a NPE.
        if pages.is_empty() {
            return Err(EINVAL);
        }

        let sgt = Opaque::zeroed();
        // SAFETY:
        // - `sgt.get()` is a valid pointer to uninitialized memory.
        // - As by the check above, `pages` is not empty.
        error::to_result(unsafe {
            bindings::sg_alloc_table_from_pages_segment(
                sgt.get(),
                pages.as_mut_ptr(),
                pages.len().try_into()?,
                0,
                size,
                max_segment,
                flags.as_raw(),
            )
        })?;

        Ok(Self(sgt))
    }

    #[inline]
    fn as_raw(&self) -> *mut bindings::sg_table {
        self.0.get()
    }
}

impl Drop for RawSGTable {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `sgt` is a valid and initialized `struct sg_table`.
        unsafe { bindings::sg_free_table(self.0.get()) };
    }
}

/// The [`Owned`] generic type of an [`SGTable`].
///
/// A [`SGTable<Owned>`] signifies that the [`SGTable`] owns all associated resources:
///
/// - The backing memory pages.
/// - The `struct sg_table` allocation (`sgt`).
/// - The DMA mapping, managed through a [`Devres`]-managed `DmaMappedSgt`.
///
/// Users interact with this type through the [`SGTable`] handle and do not need to manage
/// [`Owned`] directly.
#[pin_data]
pub struct Owned<P> {
    // Note: The drop order is relevant; we first have to unmap the `struct sg_table`, then free the
    // `struct sg_table` and finally free the backing pages.
    #[pin]
    dma: Devres<DmaMappedSgt>,
    sgt: RawSGTable,
    _pages: P,
}

// SAFETY: `Owned` can be sent to any task if `P` can be send to any task.
unsafe impl<P: Send> Send for Owned<P> {}

// SAFETY: `Owned` has no interior mutability and can be accessed concurrently if `P` can be
// accessed concurrently.
unsafe impl<P: Sync> Sync for Owned<P> {}

impl<P> Owned<P>
where
    for<'a> P: page::AsPageIter<Iter<'a> = VmallocPageIter<'a>> + 'static,
{
    fn new(
        dev: &Device<Bound>,
        mut pages: P,
        dir: dma::DataDirection,
        flags: alloc::Flags,
    ) -> Result<impl PinInit<Self, Error> + '_> {
        let page_iter = pages.page_iter();
        let size = page_iter.size();

        let mut page_vec: KVec<*mut bindings::page> =
            KVec::with_capacity(page_iter.page_count(), flags)?;

        for page in page_iter {
            page_vec.push(page.as_ptr(), flags)?;
        }

        // `dma_max_mapping_size` returns `size_t`, but `sg_alloc_table_from_pages_segment()` takes
        // an `unsigned int`.
        //
        // SAFETY: `dev.as_raw()` is a valid pointer to a `struct device`.
        let max_segment = match unsafe { bindings::dma_max_mapping_size(dev.as_raw()) } {
            0 => u32::MAX,
            max_segment => u32::try_from(max_segment).unwrap_or(u32::MAX),
        };

        Ok(try_pin_init!(&this in Self {
            // SAFETY:
            // - `page_vec` is a `KVec` of valid `struct page *` obtained from `pages`.
            // - The pages contained in `pages` remain valid for the entire lifetime of the
            //   `RawSGTable`.
            sgt: unsafe { RawSGTable::new(&mut page_vec, size, max_segment, flags) }?,
            dma <- {
                // SAFETY: `this` is a valid pointer to uninitialized memory.
                let sgt = unsafe { &raw mut (*this.as_ptr()).sgt }.cast();

                // SAFETY: `sgt` is guaranteed to be non-null.
                let sgt = unsafe { NonNull::new_unchecked(sgt) };

                // SAFETY:
                // - It is guaranteed that the object returned by `DmaMappedSgt::new` won't out-live
                //   `sgt`.
                // - `sgt` is never DMA unmapped manually.
                Devres::new(dev, unsafe { DmaMappedSgt::new(sgt, dev, dir) })
            },
            _pages: pages,
        }))
    }
}

impl<P> SGTable<Owned<P>>
where
    for<'a> P: page::AsPageIter<Iter<'a> = VmallocPageIter<'a>> + 'static,
{
    /// Allocates a new scatter-gather table from the given pages and maps it for DMA.
    ///
    /// This constructor creates a new [`SGTable<Owned>`] that takes ownership of `P`.
    /// It allocates a `struct sg_table`, populates it with entries corresponding to the physical
    /// pages of `P`, and maps the table for DMA with the specified [`Device`] and
    /// [`dma::DataDirection`].
    ///
    /// The DMA mapping is managed through [`Devres`], ensuring that the DMA mapping is unmapped
    /// once the associated [`Device`] is unbound, or when the [`SGTable<Owned>`] is dropped.
    ///
    /// # Parameters
    ///
    /// * `dev`: The [`Device`] that will be performing the DMA.
    /// * `pages`: The entity providing the backing pages. It must implement [`page::AsPageIter`].
    ///   The ownership of this entity is moved into the new [`SGTable<Owned>`].
    /// * `dir`: The [`dma::DataDirection`] of the DMA transfer.
    /// * `flags`: Allocation flags for internal allocations (e.g., [`GFP_KERNEL`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     device::{Bound, Device},
    ///     dma, page,
    ///     prelude::*,
    ///     scatterlist::{SGTable, Owned},
    /// };
    ///
    /// fn test(dev: &Device<Bound>) -> Result {
    ///     let size = 4 * page::PAGE_SIZE;
    ///     let pages = VVec::<u8>::with_capacity(size, GFP_KERNEL)?;
    ///
    ///     let sgt = KBox::pin_init(SGTable::new(
    ///         dev,
    ///         pages,
    ///         dma::DataDirection::ToDevice,
    ///         GFP_KERNEL,
    ///     ), GFP_KERNEL)?;
    ///
    ///     Ok(())
    /// }
    /// ```
    pub fn new(
        dev: &Device<Bound>,
        pages: P,
        dir: dma::DataDirection,
        flags: alloc::Flags,
    ) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            inner <- Owned::new(dev, pages, dir, flags)?
        })
    }
}

impl<P> Deref for SGTable<Owned<P>> {
    type Target = SGTable;

    #[inline]
    fn deref(&self) -> &Self::Target {
        // SAFETY:
        // - `self.inner.sgt.as_raw()` is a valid pointer to a `struct sg_table` for the entire
        //   lifetime of `self`.
        // - The backing `struct sg_table` is not modified for the entire lifetime of `self`.
        unsafe { SGTable::from_raw(self.inner.sgt.as_raw()) }
    }
}

mod private {
    pub trait Sealed {}

    impl Sealed for super::Borrowed {}
    impl<P> Sealed for super::Owned<P> {}
}

/// An [`Iterator`] over the DMA mapped [`SGEntry`] items of an [`SGTable`].
///
/// Note that the existence of an [`SGTableIter`] does not guarantee that the [`SGEntry`] items
/// actually remain DMA mapped; they are prone to be unmapped on device unbind.
pub struct SGTableIter<'a> {
    pos: Option<&'a SGEntry>,
    /// The number of DMA mapped entries in a `struct sg_table`.
    nents: c_uint,
}

impl<'a> Iterator for SGTableIter<'a> {
    type Item = &'a SGEntry;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.pos?;
        self.nents = self.nents.saturating_sub(1);

        // SAFETY: `entry.as_raw()` is a valid pointer to a `struct scatterlist`.
        let next = unsafe { bindings::sg_next(entry.as_raw()) };

        self.pos = (!next.is_null() && self.nents > 0).then(|| {
            // SAFETY: If `next` is not NULL, `sg_next()` guarantees to return a valid pointer to
            // the next `struct scatterlist`.
            unsafe { SGEntry::from_raw(next) }
        });

        Some(entry)
    }
}

/// Which way the CPU moves data through an [`SgMiter`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MiterDirection {
    /// The CPU writes the scatterlist's memory (`SG_MITER_TO_SG`): the data cache of every page
    /// it mapped is flushed when the page is unmapped, on architectures that need it.
    ToSg,
    /// The CPU only reads the scatterlist's memory (`SG_MITER_FROM_SG`): [`SgChunk`]'s writing
    /// methods refuse to run.
    FromSg,
}

/// Whether [`SgMiter`] hands out memory at its direct-map address instead of mapping it page by
/// page: every page has one (no `CONFIG_HIGHMEM`), so `kmap_local_page()` is `page_address()`,
/// and a page the CPU wrote needs no `flush_dcache_page()` (the architecture's is empty), so
/// unmapping it does nothing. The crypto API's `scatterwalk` makes the same distinction.
const DIRECT: bool = !cfg!(CONFIG_HIGHMEM) && bindings::ARCH_IMPLEMENTS_FLUSH_DCACHE_PAGE == 0;

/// Where an [`SgMiter`] is, when [`DIRECT`]: in an entry, or past the last one.
///
/// # Invariants
///
/// If `sg` is not NULL, it is a valid entry that is followed by `nents` more (the list may end
/// earlier, with a terminated entry), the pages of all of them have direct-map addresses, its
/// `length` bytes are at `base`, and `off <= len`, its length. If `sg` is NULL, `len` and `off`
/// are 0.
#[derive(Clone, Copy)]
struct DirectPos {
    sg: *mut bindings::scatterlist,
    nents: u32,
    base: *mut u8,
    len: usize,
    off: usize,
}

impl DirectPos {
    /// The position at the start of `sg`, which `nents` entries follow; past the end if `sg` is
    /// NULL.
    ///
    /// # Safety
    ///
    /// `sg` is NULL, or a valid entry that `nents` more follow (or a terminated one), whose pages
    /// have direct-map addresses.
    #[inline]
    unsafe fn at(sg: *mut bindings::scatterlist, nents: u32) -> Self {
        if sg.is_null() {
            // INVARIANT: past the end.
            return Self {
                sg,
                nents: 0,
                base: core::ptr::null_mut(),
                len: 0,
                off: 0,
            };
        }
        // SAFETY: `sg` is a valid entry (the caller's guarantee).
        let len = unsafe { (*sg).length } as usize;
        // SAFETY: as above; its pages have direct-map addresses (the caller's guarantee, and no
        // `CONFIG_HIGHMEM`), so `sg_virt()` is the address of its first byte.
        let base = unsafe { bindings::sg_virt(sg) }.cast();
        // INVARIANT: the entry's bytes are at `base`, and none is handed out yet.
        Self {
            sg,
            nents,
            base,
            len,
            off: 0,
        }
    }

    /// Moves past the entries that have nothing left to hand out; `false` at the end of the list.
    #[inline]
    fn settle(&mut self) -> bool {
        while self.off == self.len {
            if self.sg.is_null() || self.nents == 0 {
                return false;
            }
            // SAFETY: `sg` is a valid entry that `nents` more follow, or a terminated one (type
            // invariant); `sg_next()` returns the next, following chain links, or NULL after a
            // terminated one.
            let next = unsafe { bindings::sg_next(self.sg) };
            // SAFETY: `next` is NULL or a valid entry that `nents - 1` more follow, on the same
            // list, whose pages have direct-map addresses (type invariant).
            *self = unsafe { Self::at(next, self.nents - 1) };
        }
        true
    }
}

/// How an [`SgMiter`] reaches the memory: see [`DIRECT`].
#[derive(Clone, Copy)]
enum MiterState {
    /// Entry by entry, at the direct-map address.
    Direct(DirectPos),
    /// Page by page, through the C side's mapping iterator.
    Mapped(bindings::sg_mapping_iter),
}

/// CPU access to the memory of a scatterlist, a chunk at a time.
///
/// A chunk is a piece of an entry's memory, mapped for the CPU, which the iterator hands out as
/// an [`SgChunk`]. Where pages need mapping (`CONFIG_HIGHMEM`) or a flush after the CPU wrote them
/// (architectures that implement `flush_dcache_page()`), this wraps the C side's mapping iterator
/// (`struct sg_mapping_iter`, `sg_miter_start()`, `sg_miter_next()`, `sg_miter_stop()`, with
/// `SG_MITER_LOCAL`), and a chunk is the part of one page that lies in one entry. Elsewhere every
/// page has a direct-map address that needs neither, and a chunk is what is left of an entry, at
/// that address, as the crypto API's `scatterwalk` does: the same walk without a call per page.
/// Users must not rely on a chunk's length beyond "not 0, unless the entry is empty".
///
/// A chunk need not be used whole: what it does not [consume](SgChunk::consume) is handed out
/// again by the next call of [`with_next`](Self::with_next).
///
/// The memory is never handed out as a Rust reference: it may belong to someone who changes it
/// while the iterator runs (user space, a device, another CPU), and so [`SgChunk`] reads and
/// writes it only with byte-wise atomic accesses (see
/// [`atomic_per_byte_memcpy`](crate::sync::atomic::atomic_per_byte_memcpy)).
///
/// [`advance_if`](Self::advance_if) lets a user walk ahead and come back: a sequence count reader
/// copies a range that spans several chunks, and copies it again if a writer intervened.
///
/// # Examples
///
/// ```
/// use kernel::bindings;
/// use kernel::scatterlist::{MiterDirection, SgMiter};
/// use kernel::types::Opaque;
///
/// let mut buf = KVec::from_elem(0xffu8, 6000, GFP_KERNEL)?;
/// let sg = Opaque::<bindings::scatterlist>::uninit();
/// // SAFETY: `sg` is ours to initialise, and `buf` is a kmalloc'ed buffer of 6000 bytes.
/// unsafe { bindings::sg_init_one(sg.get(), buf.as_mut_ptr().cast(), 6000) };
/// // SAFETY: one terminated entry over `buf`, which nothing else accesses while `miter` lives.
/// let mut miter = unsafe { SgMiter::new(sg.get(), 1, MiterDirection::ToSg) };
/// let mut total = 0;
/// while let Some(n) = miter.with_next(|chunk| {
///     // zero the first 100 bytes of every chunk, and leave the rest for the next call
///     let n = chunk.len().min(100);
///     chunk.fill_zero(0, n)?;
///     chunk.consume(n)?;
///     Ok::<usize, Error>(n)
/// }) {
///     total += n?;
/// }
/// drop(miter);
/// assert_eq!(total, 6000);
/// assert!(buf.iter().all(|&b| b == 0));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// The scatterlist's entries stay valid and unchanged for `'a`, and its memory stays valid and
/// reachable through `kmap_local_page()` for `'a`; every access to that memory that may run
/// concurrently with the iterator's own is atomic. `state` is `Direct` if and only if
/// [`DIRECT`], and then holds a position in the list ([`DirectPos`]'s invariants); otherwise it
/// holds an iterator started with `sg_miter_start()`, `SG_MITER_LOCAL` and the flag of `dir` on
/// the list. Nothing is mapped between calls of the iterator's methods.
pub struct SgMiter<'a> {
    state: MiterState,
    dir: MiterDirection,
    _sgl: PhantomData<&'a SGEntry>,
}

impl<'a> SgMiter<'a> {
    /// Starts an iterator at the first of the `nents` entries at `sgl` (chained or not).
    ///
    /// # Safety
    ///
    /// - `sgl` points to the first of `nents` valid entries of a scatterlist (it may end earlier,
    ///   with a terminated entry), or `nents` is 0 (and `sgl` may be NULL).
    /// - The entries stay valid and unchanged for `'a`, and the memory they describe stays valid
    ///   for `'a` and is memory the CPU may map with `kmap_local_page()` (not device memory).
    /// - Every access to that memory that may run concurrently with the iterator's accesses is
    ///   atomic: an access from C, from a device, or a byte-wise atomic copy.
    #[inline]
    pub unsafe fn new(sgl: *mut bindings::scatterlist, nents: u32, dir: MiterDirection) -> Self {
        let state = if DIRECT {
            let first = if nents == 0 {
                core::ptr::null_mut()
            } else {
                sgl
            };
            // SAFETY: `first` is NULL, or the first of `nents` valid entries (the caller's
            // guarantee), which `nents - 1` more follow; pages that `kmap_local_page()` maps
            // without `CONFIG_HIGHMEM` have direct-map addresses.
            MiterState::Direct(unsafe { DirectPos::at(first, nents.saturating_sub(1)) })
        } else {
            let flags = bindings::SG_MITER_LOCAL
                | match dir {
                    MiterDirection::ToSg => bindings::SG_MITER_TO_SG,
                    MiterDirection::FromSg => bindings::SG_MITER_FROM_SG,
                };
            let mut raw = bindings::sg_mapping_iter::default();
            // SAFETY: `raw` is ours, and the caller guarantees that `sgl` starts `nents` valid
            // entries; `sg_miter_start()` only records them.
            unsafe { bindings::sg_miter_start(&mut raw, sgl, nents, flags) };
            MiterState::Mapped(raw)
        };
        // INVARIANT: the caller guarantees the list and its memory for `'a`; `state` as built
        // above, with nothing mapped yet.
        Self {
            state,
            dir,
            _sgl: PhantomData,
        }
    }

    /// Runs `f` with the iterator, and keeps it where `f` left it only if `f` returns `true`:
    /// otherwise the iterator is back where it was before the call, and the next chunk it hands
    /// out is the one it would have handed out then. What `f` wrote to the memory stays written.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::bindings;
    /// use kernel::scatterlist::{MiterDirection, SgMiter};
    /// use kernel::types::Opaque;
    ///
    /// let mut buf = KVec::from_elem(7u8, 100, GFP_KERNEL)?;
    /// let sg = Opaque::<bindings::scatterlist>::uninit();
    /// // SAFETY: `sg` is ours to initialise, and `buf` is a kmalloc'ed buffer of 100 bytes.
    /// unsafe { bindings::sg_init_one(sg.get(), buf.as_mut_ptr().cast(), 100) };
    /// // SAFETY: one terminated entry over `buf`, which nothing else accesses while `miter` lives.
    /// let mut miter = unsafe { SgMiter::new(sg.get(), 1, MiterDirection::FromSg) };
    /// // Look at the chunk, and go back.
    /// let mut seen = None;
    /// assert!(!miter.advance_if(|m| {
    ///     seen = m.with_next(|chunk| chunk.len());
    ///     false
    /// }));
    /// assert_eq!(seen, Some(100));
    /// // The same chunk again.
    /// assert_eq!(miter.with_next(|chunk| chunk.len()), Some(100));
    /// assert!(miter.with_next(|chunk| chunk.len()).is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn advance_if(&mut self, f: impl FnOnce(&mut Self) -> bool) -> bool {
        // Nothing is mapped between calls (type invariant), so the state is a position in the
        // scatterlist, which stays unchanged, and nothing else.
        let saved = self.state;
        if f(self) {
            return true;
        }
        // INVARIANT: a state that the iterator held before, on the same scatterlist, with nothing
        // mapped (`f` could only map through `with_next`, which unmaps before it returns).
        self.state = saved;
        false
    }

    /// Maps the next chunk and calls `f` with it; `None` once the scatterlist ends.
    ///
    /// The next chunk starts where the last one's consumed bytes end, or else at the next entry
    /// that is not empty. It is unmapped when `f` returns; local mappings that `f` makes are
    /// nested in it, and undone before `f` returns, as safe code can only map pages through
    /// scoped interfaces such as this one.
    #[inline]
    pub fn with_next<R>(&mut self, f: impl FnOnce(&mut SgChunk<'_>) -> R) -> Option<R> {
        let writable = self.dir == MiterDirection::ToSg;
        // Each build walks one way (`DIRECT` is a constant, which `state` matches: type
        // invariant), so the other arm is never taken and compiles away.
        let mut chunk = match &mut self.state {
            MiterState::Direct(pos) if DIRECT => {
                if !pos.settle() {
                    return None;
                }
                let left = pos.len - pos.off;
                // INVARIANT: `off < len` after `settle()`, and the entry's `len` bytes are at
                // `base` (`DirectPos`'s invariants) and stay valid for `'a`, which the chunk's
                // borrow of `self` does not outlive.
                SgChunk {
                    // SAFETY: `off < len`, so this stays within the entry's bytes.
                    addr: unsafe { pos.base.add(pos.off) },
                    len: left,
                    consumed: left,
                    writable,
                    _page: PhantomData,
                }
            }
            MiterState::Mapped(raw) if !DIRECT => {
                // SAFETY: `raw` was started on a valid scatterlist (type invariant), with
                // `SG_MITER_LOCAL`, so this does not sleep.
                if !unsafe { bindings::sg_miter_next(raw) } {
                    return None;
                }
                // INVARIANT: mapped by `sg_miter_next()` for `length` bytes until
                // `sg_miter_stop()` below, which the chunk's borrow of `self` does not outlive.
                SgChunk {
                    addr: raw.addr.cast(),
                    len: raw.length,
                    consumed: raw.length,
                    writable,
                    _page: PhantomData,
                }
            }
            _ => return None,
        };
        let ret = f(&mut chunk);
        match &mut self.state {
            // INVARIANT: `consumed <= len - off` (`SgChunk`'s invariant).
            MiterState::Direct(pos) => pos.off += chunk.consumed,
            MiterState::Mapped(raw) => {
                raw.consumed = chunk.consumed;
                // INVARIANT: nothing stays mapped.
                // SAFETY: a chunk is mapped, and it is the task's last local mapping (one that `f`
                // left would break `kmap_local_page()`'s rules, as in `Page::with_page_mapped`).
                unsafe { bindings::sg_miter_stop(raw) };
            }
        }
        Some(ret)
    }
}

impl Drop for SgMiter<'_> {
    #[inline]
    fn drop(&mut self) {
        if let MiterState::Mapped(raw) = &mut self.state {
            // SAFETY: `raw` was started (type invariant); nothing is mapped, so this only ends it.
            unsafe { bindings::sg_miter_stop(raw) };
        }
    }
}

/// The mapped part of an entry of a scatterlist, handed out by [`SgMiter::with_next`].
///
/// # Invariants
///
/// `addr` is mapped and valid for `len` bytes for `'b`; accesses to those bytes that race the
/// chunk's own are atomic; the iterator's user may write them if `writable`. `consumed <= len`.
pub struct SgChunk<'b> {
    addr: *mut u8,
    len: usize,
    consumed: usize,
    writable: bool,
    _page: PhantomData<&'b mut ()>,
}

impl SgChunk<'_> {
    /// The length of the chunk, in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the chunk is empty (as for an entry of length 0).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The address of the chunk's first byte, valid for reads of [`len`](Self::len) bytes while
    /// the chunk is borrowed. The bytes may change at any time: access them only atomically.
    #[inline]
    pub fn as_ptr(&self) -> *const u8 {
        self.addr
    }

    /// The address of the chunk's first byte, valid for reads and writes of [`len`](Self::len)
    /// bytes while the chunk is borrowed, as [`as_ptr`](Self::as_ptr). Fails with [`EPERM`] unless
    /// the iterator is [`MiterDirection::ToSg`]: a page mapped for reading only is not flushed
    /// after the CPU writes it.
    #[inline]
    pub fn as_mut_ptr(&mut self) -> Result<*mut u8> {
        if !self.writable {
            return Err(EPERM);
        }
        Ok(self.addr)
    }

    /// Says that the first `n` bytes are used: the next chunk starts after them. By default the
    /// whole chunk is. Fails with [`EINVAL`] if `n` exceeds the chunk's length.
    #[inline]
    pub fn consume(&mut self, n: usize) -> Result {
        if n > self.len {
            return Err(EINVAL);
        }
        self.consumed = n;
        Ok(())
    }

    #[inline]
    fn range(&self, off: usize, len: usize) -> Result<*mut u8> {
        match off.checked_add(len) {
            // SAFETY: `off` is within the chunk's `len` bytes, or just past them (type invariant).
            Some(end) if end <= self.len => Ok(unsafe { self.addr.add(off) }),
            _ => Err(EINVAL),
        }
    }

    /// Writes zeroes to the `len` bytes at `off`, each byte with an atomic access.
    ///
    /// Fails with [`EINVAL`] if the range exceeds the chunk, and with [`EPERM`] if the iterator
    /// is [`MiterDirection::FromSg`].
    #[inline]
    pub fn fill_zero(&mut self, off: usize, len: usize) -> Result {
        if !self.writable {
            return Err(EPERM);
        }
        let p = self.range(off, len)?;
        // SAFETY: `p` is valid for `len` bytes (`range`), and what races this write is atomic
        // (type invariant); `memset()` runs outside the Rust abstract machine.
        unsafe { bindings::memset(p.cast(), 0, len) };
        Ok(())
    }

    /// Whether the `len` bytes at `off` are all zero, each read with an atomic access.
    ///
    /// Fails with [`EINVAL`] if the range exceeds the chunk.
    #[inline]
    pub fn is_zero(&self, off: usize, len: usize) -> Result<bool> {
        let p = self.range(off, len)?;
        // SAFETY: as in `fill_zero`, for reads.
        Ok(unsafe { bindings::memchr_inv(p.cast(), 0, len) }.is_null())
    }

    /// Whether the bytes at `off` equal `bytes`, each read with an atomic access.
    ///
    /// Fails with [`EINVAL`] if the range exceeds the chunk.
    #[inline]
    pub fn equals(&self, off: usize, bytes: &[u8]) -> Result<bool> {
        let p = self.range(off, bytes.len())?;
        // SAFETY: as in `is_zero`; `bytes` is valid for its length.
        Ok(unsafe { bindings::memcmp(p.cast(), bytes.as_ptr().cast(), bytes.len()) } == 0)
    }
}
