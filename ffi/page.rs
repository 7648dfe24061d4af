// SPDX-License-Identifier: GPL-2.0

//! Store pages and the index that holds them.
//!
//! A [`StorePage`] is a counted reference to a page: cloning it takes a
//! page reference, dropping it puts one. The [`PageIndex`] owns one
//! reference on every page it holds, as brd's xarray does: a lookup finds
//! the page under RCU and takes its own reference (`get_page_unless_zero`,
//! then checks the slot again), an insertion is a compare-exchange from an
//! empty slot, and removal erases the slot. A writer thus copies into a
//! page holding only its own reference, while a concurrent deallocation
//! may drop the index's.
//!
//! Readers take no reference: a removal puts the index's reference only
//! after an RCU grace period (an object's index that nobody borrows any
//! more puts at once), so a page found under the RCU read lock
//! stays a page of the store until that section ends. A [`PeekRun`]
//! borrows the section's [`Guard`], and the pages it hands out borrow it,
//! so no safe code reads a page after its section.
//!
//! Copies into a page take the page's own writer lock and copies out of
//! it take nothing but retry if a writer intervened (the sequence count is
//! in `nvmet_mem_glue.c`), so each logical block is read whole. Both are
//! byte-wise atomic copies between the page and a chunk of the data
//! buffer that [`SgCursor`] maps (see `Page::read_bytewise_atomic`).

use super::sg::{SgCursor, Step};
use core::marker::{PhantomData, PhantomPinned};
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::AtomicUsize;
use kernel::alloc::AllocError;
use kernel::bindings;
use kernel::page::{BorrowedPage, Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::scatterlist::SgChunk;
use kernel::sync::atomic::{Acquire, Atomic, Relaxed};
use kernel::sync::barrier::{smp_mb, Read};
use kernel::sync::rcu::Guard;
use kernel::types::Opaque;

/// Opaque `struct page`, as the C primitives take it.
#[repr(C)]
pub(crate) struct RawPage {
    _opaque: [u8; 0],
    _pin: PhantomData<PhantomPinned>,
}

extern "C" {
    fn nvmet_mem_xa_init(xa: *mut bindings::xarray);
    fn nvmet_mem_xa_destroy(xa: *mut bindings::xarray);
    fn nvmet_mem_xa_get(xa: *mut bindings::xarray, index: usize) -> *mut RawPage;
    fn nvmet_mem_xa_get_run(
        xa: *mut bindings::xarray,
        first: usize,
        pages: *mut *mut RawPage,
        n: c_uint,
    );
    fn nvmet_mem_xa_peek_run(
        xa: *mut bindings::xarray,
        first: usize,
        pages: *mut *mut RawPage,
        n: c_uint,
    );
    fn nvmet_mem_xa_insert(
        xa: *mut bindings::xarray,
        index: usize,
        page: *mut RawPage,
        end: *const usize,
        found: *mut *mut RawPage,
    ) -> c_int;
    fn nvmet_mem_xa_set_end(xa: *mut bindings::xarray, end: *mut usize, value: usize);
    fn nvmet_mem_xa_remove(xa: *mut bindings::xarray, index: usize) -> bool;
    fn nvmet_mem_wait_retired() -> bool;
    fn nvmet_mem_xa_erase(xa: *mut bindings::xarray, index: usize) -> *mut RawPage;
    fn nvmet_mem_xa_find(xa: *mut bindings::xarray, index: *mut usize, max: usize) -> bool;
    fn nvmet_mem_alloc_page(nid: c_int) -> *mut RawPage;
    fn nvmet_mem_get_page(page: *mut RawPage);
    fn nvmet_mem_put_page(page: *mut RawPage);
    fn nvmet_mem_page_lock(page: *mut RawPage) -> usize;
    fn nvmet_mem_page_unlock(page: *mut RawPage, s: usize);
}

/// `[off, off + len)` lies within a page.
fn check(off: usize, len: usize) -> Result {
    match off.checked_add(len) {
        Some(end) if end <= PAGE_SIZE => Ok(()),
        _ => Err(EINVAL),
    }
}

/// Zeroes for [`StorePage::zero`] to copy from, a piece at a time.
static ZEROES: [u8; 256] = [0; 256];

/// Optimistic reads before a reader takes the writer bit.
const READ_TRIES: u32 = 4;

/// The kernel crate's view of a live store page, for its byte-wise atomic
/// copies.
///
/// # Safety
///
/// `page` is a page of the store that stays allocated for `'a`.
unsafe fn kpage<'a>(page: NonNull<RawPage>) -> BorrowedPage<'a> {
    // SAFETY: the caller's guarantee.
    unsafe { BorrowedPage::from_raw(page.cast()) }
}

/// Runs `f` holding the writer bit of the store page `page` (see
/// `nvmet_mem_glue.c`): no writer and no reader runs at the same time;
/// `changed` says whether `f` changes the page (readers then retry). `f`
/// must not sleep (bottom halves are off).
///
/// # Safety
///
/// `page` is a live page of the store.
unsafe fn as_writer<R>(page: NonNull<RawPage>, changed: bool, f: impl FnOnce() -> R) -> R {
    // SAFETY: a live store page (the caller's guarantee), whose private
    // word is its sequence count.
    let s = unsafe { nvmet_mem_page_lock(page.as_ptr()) };
    let ret = f();
    // SAFETY: we hold the bit taken above; the count moves on by 2 after a
    // change.
    unsafe { nvmet_mem_page_unlock(page.as_ptr(), if changed { s + 2 } else { s }) };
    ret
}

/// Copies `n` bytes at `at` of the page `kp` to the start of `chunk`.
fn copy_out(kp: &Page, at: usize, chunk: &mut SgChunk<'_>, n: usize) -> Result {
    if n > chunk.len() {
        return Err(EINVAL);
    }
    let to = chunk.as_mut_ptr()?;
    // What may race the copy is atomic: the host's accesses to its buffer
    // (C's or a device's) and the store's writes to the page (`copy_in`,
    // `StorePage::zero`).
    // SAFETY: the chunk is mapped and valid for its length, `n` at most,
    // while it is borrowed, and is not the store's page (a command's buffer
    // never is); the page's range is checked; races as above.
    unsafe { kp.read_bytewise_atomic(to, at, n) }
}

/// Copies the first `n` bytes of `chunk` to `at` of the page `kp`; the
/// caller holds the page's writer bit.
fn copy_in(kp: &Page, at: usize, chunk: &SgChunk<'_>, n: usize) -> Result {
    if n > chunk.len() {
        return Err(EINVAL);
    }
    // SAFETY: as in `copy_out`, the other way: the readers that may race
    // the copy read the page with `copy_out` or `compare`.
    unsafe { kp.write_bytewise_atomic(chunk.as_ptr(), at, n) }
}

/// Whether the first `n` bytes of `chunk` equal `n` bytes at `at` of the
/// page `kp`, read through a small buffer of our own.
fn compare(kp: &Page, at: usize, chunk: &mut SgChunk<'_>, n: usize) -> Result<bool> {
    let mut buf = [0u8; 256];
    let mut i = 0;
    while i < n {
        let m = buf.len().min(n - i);
        // SAFETY: `buf` is ours and valid for `m` bytes; the page's range is
        // checked, and what races the copy there is atomic (as in
        // `copy_out`).
        unsafe { kp.read_bytewise_atomic(buf.as_mut_ptr(), at + i, m)? };
        if !chunk.equals(i, &buf[..m])? {
            return Ok(false);
        }
        i += m;
    }
    Ok(true)
}

/// The sequence count of the store page `page`: its private word, odd
/// while a writer holds the page (see `nvmet_mem_page_lock()` in
/// `nvmet_mem_glue.c`).
///
/// # Safety
///
/// `page` is a page of the store that stays allocated for `'a`.
unsafe fn seq<'a>(page: NonNull<RawPage>) -> &'a Atomic<usize> {
    let p = page.as_ptr().cast::<bindings::page>();
    // The store owns the page; its private word is the count, which is only
    // accessed atomically (here, and in C by the writer's side).
    // SAFETY: `p` stays allocated for `'a` (the caller's guarantee); as above.
    unsafe { Atomic::from_ptr(&raw mut (*p).__bindgen_anon_1.__bindgen_anon_1.private) }
}

/// Waits until no writer holds the store page `page`, and returns its
/// count, for [`read_retry`] after a copy out of the page.
///
/// # Safety
///
/// `page` is a live page of the store.
#[inline]
unsafe fn read_begin(page: NonNull<RawPage>) -> usize {
    // KCSAN has nothing to be told about the copy that follows: it is
    // `memcpy()` called from Rust, which KCSAN does not instrument
    // (see `atomic_per_byte_memcpy`).
    // SAFETY: a live store page (the caller's guarantee).
    let seq = unsafe { seq(page) };
    loop {
        // Pairs with the writer's release: the count, then the bytes.
        let s = seq.load(Acquire);
        if s & 1 == 0 {
            return s;
        }
        kernel::processor::cpu_relax();
    }
}

/// Whether a writer took the store page `page` since [`read_begin`]
/// returned `s`: the copy made in between must be made again.
///
/// # Safety
///
/// `page` is a live page of the store.
#[inline]
unsafe fn read_retry(page: NonNull<RawPage>, s: usize) -> bool {
    // The copy's loads complete before the count is read again.
    smp_mb(Read);
    // SAFETY: a live store page (the caller's guarantee).
    unsafe { seq(page) }.load(Relaxed) != s
}

/// Reads `len` bytes at `off` of the store page `page`, as of one moment,
/// with `op(kp, at, chunk, n)` for each piece of the buffer at `with`:
/// again, with the cursor back where it was, while a writer intervenes,
/// under the writer bit after [`READ_TRIES`]. `Ok(false)` if `op` found a
/// difference.
///
/// # Safety
///
/// `page` is a live page of the store.
#[inline]
unsafe fn read_page(
    page: NonNull<RawPage>,
    off: usize,
    len: usize,
    with: &mut SgCursor<'_>,
    op: impl Fn(&Page, usize, &mut SgChunk<'_>, usize) -> Result<bool> + Copy,
) -> Result<bool> {
    check(off, len)?;
    // SAFETY: live for this call (the caller's guarantee).
    let kp = unsafe { kpage(page) };
    // Most often the bytes lie in one chunk of the buffer, and no writer
    // intervenes: one copy, without the walk.
    let mut tried = false;
    let once = with.in_one_chunk(len, |chunk| {
        tried = true;
        // SAFETY: a live store page (the caller's guarantee).
        let s = unsafe { read_begin(page) };
        let ret = op(&kp, off, chunk, len);
        // An error ends the command whatever a writer did.
        // SAFETY: as above.
        (ret.is_err() || !unsafe { read_retry(page, s) }).then_some(ret)
    });
    match once {
        Some(ret) => ret,
        // SAFETY: as above; `off` and `len` are checked.
        None => unsafe { read_page_walk(&kp, page, off, len, with, op, tried) },
    }
}

/// [`read_page`] when the bytes span chunks of the buffer or a writer
/// intervened (`tried`: one optimistic try is spent already): a function of
/// its own, so that the common case does not pay for its registers.
///
/// # Safety
///
/// `page` is a live page of the store, and `kp` is its view; `[off, off +
/// len)` lies within it.
#[inline(never)]
unsafe fn read_page_walk(
    kp: &Page,
    page: NonNull<RawPage>,
    off: usize,
    len: usize,
    with: &mut SgCursor<'_>,
    op: impl Fn(&Page, usize, &mut SgChunk<'_>, usize) -> Result<bool>,
    tried: bool,
) -> Result<bool> {
    let mut step = |chunk: &mut SgChunk<'_>, done: usize, n: usize| {
        Ok(match op(kp, off + done, chunk, n)? {
            true => Step::Done,
            false => Step::Stop,
        })
    };
    // A difference is kept without checking the count: each byte that `op`
    // compared was the page's at some moment of the try (a copy sees every
    // byte old or new, each on its own), so the page differed from the
    // buffer then, and the command may be ordered at that moment.
    for _ in u32::from(tried)..READ_TRIES {
        // SAFETY: a live store page (the caller's guarantee).
        let s = unsafe { read_begin(page) };
        // SAFETY: as above.
        let unchanged = || !unsafe { read_retry(page, s) };
        if let Some(ret) = with.for_each_or_back(len, &mut step, unchanged) {
            return ret;
        }
    }
    // SAFETY: as above.
    unsafe { as_writer(page, false, || with.for_each(len, step)) }
}

/// A counted reference to a page of the store.
///
/// # Invariants
///
/// `0` is a page on which this value owns one reference.
pub(crate) struct StorePage(NonNull<RawPage>);

// SAFETY: page references may be taken and put on any CPU, and every
// access to the page's bytes is a byte-wise atomic copy; the page's
// sequence count serialises writers and lets readers retry.
unsafe impl Send for StorePage {}
// SAFETY: as above; `&StorePage` offers nothing more than the copies.
unsafe impl Sync for StorePage {}

/// A page fresh from the allocator, which no index holds or has held: the
/// only kind [`PageIndex::insert`] takes, so that a page enters an index
/// once and is retired from it at most once.
///
/// # Invariants
///
/// The page of `0` was never offered to an index.
pub(crate) struct NewPage(StorePage);

impl NewPage {
    /// Allocates a zeroed page on `nid` (or anywhere for -1) with
    /// `GFP_NOIO`, without a warning on failure. May sleep.
    pub(crate) fn alloc(nid: i32) -> Result<Self, AllocError> {
        // SAFETY: the page allocator range-checks `nid`; the caller is in
        // process context (callers of the store's allocating write are).
        let page = unsafe { nvmet_mem_alloc_page(nid) };
        // INVARIANT: a new page comes with one reference, ours, and no index
        // has seen it.
        NonNull::new(page)
            .map(|page| Self(StorePage(page)))
            .ok_or(AllocError)
    }
}

impl StorePage {
    fn raw(&self) -> *mut RawPage {
        self.0.as_ptr()
    }

    /// Whether two references name the same page.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn same(&self, other: &StorePage) -> bool {
        self.0 == other.0
    }

    /// Copies `len` bytes from the buffer at `from` to `off` of the page,
    /// holding the page's writer lock.
    /// A buffer too short for `len` bytes changes nothing.
    pub(crate) fn write_from(&self, off: usize, len: usize, from: &mut SgCursor<'_>) -> Result {
        check(off, len)?;
        if !from.has(len) {
            return Err(EINVAL);
        }
        // SAFETY: we hold a reference on the page (type invariant).
        let kp = unsafe { kpage(self.0) };
        // SAFETY: as above.
        unsafe {
            as_writer(self.0, true, || {
                from.for_each(len, |chunk, done, n| {
                    copy_in(&kp, off + done, chunk, n).map(|()| Step::Done)
                })
            })
        }
        .map(|_| ())
    }

    /// Fills `len` bytes at `off` with zeroes, holding the writer lock.
    pub(crate) fn zero(&self, off: usize, len: usize) -> Result {
        check(off, len)?;
        // SAFETY: we hold a reference on the page (type invariant).
        let kp = unsafe { kpage(self.0) };
        let zero = || {
            let mut done = 0;
            while done < len {
                let n = ZEROES.len().min(len - done);
                // SAFETY: `ZEROES` is valid for `n` bytes and never written;
                // the readers that race the copy read with `copy_out`.
                unsafe { kp.write_bytewise_atomic(ZEROES.as_ptr(), off + done, n)? };
                done += n;
            }
            Ok(())
        };
        // SAFETY: we hold a reference on the page (type invariant).
        unsafe { as_writer(self.0, true, zero) }
    }
}

impl Clone for StorePage {
    fn clone(&self) -> Self {
        // SAFETY: we hold a reference, so the page is live to take another.
        unsafe { nvmet_mem_get_page(self.raw()) };
        // INVARIANT: the reference just taken.
        Self(self.0)
    }
}

impl Drop for StorePage {
    fn drop(&mut self) {
        // SAFETY: puts the reference we own (type invariant).
        unsafe { nvmet_mem_put_page(self.raw()) };
    }
}

/// The pages of consecutive indexes, looked up together by
/// [`PageIndex::get_run`] and handed out in increasing index order.
///
/// # Invariants
///
/// `pages[..n]` is initialised. For `i` in `next..n`, `pages[i]` is NULL or
/// a page on which this value owns one reference: the page at index
/// `first + i` when it was looked up.
pub(crate) struct PageRun {
    first: usize,
    next: usize,
    n: usize,
    // Left uninitialised beyond `n`: a run is made per command, and a
    // single-page command would otherwise pay for clearing all of it.
    pages: [MaybeUninit<*mut RawPage>; PageRun::LEN],
}

impl PageRun {
    /// The most pages a run holds.
    pub(crate) const LEN: usize = 16;

    /// A run of no pages.
    pub(crate) fn new() -> Self {
        // INVARIANT: `next..n` is empty.
        Self {
            first: 0,
            next: 0,
            n: 0,
            pages: [const { MaybeUninit::uninit() }; Self::LEN],
        }
    }

    /// Whether the page at `index` is in the run and not handed out yet.
    pub(crate) fn holds(&self, index: usize) -> bool {
        index
            .checked_sub(self.first)
            .is_some_and(|i| i >= self.next && i < self.n)
    }

    /// Hands out the page at `index` (`None` for a hole, or if the run does
    /// not hold `index`: see [`PageRun::holds`]); the pages before it that
    /// were not handed out are put.
    pub(crate) fn take(&mut self, index: usize) -> Option<StorePage> {
        debug_assert!(self.holds(index));
        if !self.holds(index) {
            return None;
        }
        let i = index - self.first;
        while self.next < i {
            self.put_next();
        }
        // SAFETY: `i < n`, and `pages[..n]` is initialised (type invariant).
        let page = unsafe { self.pages[i].assume_init() };
        self.next = i + 1;
        // INVARIANT: slot `i` leaves `next..n`; its reference goes to the
        // `StorePage`.
        NonNull::new(page).map(StorePage)
    }

    /// Puts the page at `next`, if any, and moves past it. `next < n`.
    fn put_next(&mut self) {
        // SAFETY: `next < n` (the callers' loop conditions), and
        // `pages[..n]` is initialised (type invariant).
        let page = unsafe { self.pages[self.next].assume_init() };
        self.next += 1;
        if !page.is_null() {
            // SAFETY: the slot was in `next..n`, so we own a reference on
            // the page (type invariant); it has just left that range.
            unsafe { nvmet_mem_put_page(page) };
        }
    }

    /// Puts every page not handed out.
    fn put_rest(&mut self) {
        while self.next < self.n {
            self.put_next();
        }
    }
}

impl Drop for PageRun {
    fn drop(&mut self) {
        self.put_rest();
    }
}

/// A page of the store as a reader found it under the RCU read lock, with
/// no reference of its own: it can be read until the section ends.
///
/// # Invariants
///
/// `page` was found in a [`PageIndex`] in the RCU read section that `'a`
/// does not outlive.
#[derive(Clone, Copy)]
pub(crate) struct PeekedPage<'a> {
    page: NonNull<RawPage>,
    _section: PhantomData<&'a Guard>,
}

impl PeekedPage<'_> {
    /// Whether this is the page that `other` holds a reference on.
    #[cfg(CONFIG_KUNIT = "y")]
    pub(crate) fn is(&self, other: &StorePage) -> bool {
        self.page == other.0
    }

    /// Copies `len` bytes at `off` of the page to the buffer at `to`, as of
    /// one moment (no writer's copy is seen halfway).
    pub(crate) fn read_into(&self, off: usize, len: usize, to: &mut SgCursor<'_>) -> Result {
        // The page is live: it was found in the index in the RCU read section
        // we are still in (type invariant), and the index's reference is put
        // only a grace period after the page leaves it. The copy takes the
        // page's writer bit at most, without sleeping.
        // SAFETY: a live page, as above.
        unsafe {
            read_page(self.page, off, len, to, |kp, at, chunk, n| {
                copy_out(kp, at, chunk, n).map(|()| true)
            })
        }
        .map(|_| ())
    }

    /// Whether the next `len` bytes of the buffer equal `len` bytes at
    /// `off` of the page, as of one moment. The cursor's position is
    /// unspecified after a difference.
    pub(crate) fn equals(&self, off: usize, len: usize, with: &mut SgCursor<'_>) -> Result<bool> {
        // SAFETY: a live page, as in `read_into`.
        unsafe { read_page(self.page, off, len, with, compare) }
    }
}

/// The pages of consecutive indexes as one RCU read section found them,
/// without references (see [`PageIndex::peek_run`]).
///
/// # Invariants
///
/// `pages[..n]` is initialised; `pages[i]` is NULL or the page that was at
/// index `first + i` in the RCU read section that `'a` does not outlive.
pub(crate) struct PeekRun<'a> {
    first: usize,
    n: usize,
    pages: [MaybeUninit<*mut RawPage>; PageRun::LEN],
    _section: PhantomData<&'a Guard>,
}

impl<'a> PeekRun<'a> {
    /// The page at `index` (`None` for a hole or an index outside the run).
    pub(crate) fn page(&self, index: usize) -> Option<PeekedPage<'a>> {
        let i = index.checked_sub(self.first).filter(|&i| i < self.n)?;
        // SAFETY: `i < n`, and `pages[..n]` is initialised (type invariant).
        let page = unsafe { self.pages[i].assume_init() };
        // INVARIANT: found in the section that `'a` does not outlive.
        NonNull::new(page).map(|page| PeekedPage {
            page,
            _section: PhantomData,
        })
    }
}

/// Waits until the pages that removals retired (see [`PageIndex::remove`])
/// have been put, if any were waiting; whether there were, so that memory
/// may have come back. May sleep for a grace period: process context only.
pub(crate) fn wait_retired_pages() -> bool {
    // SAFETY: no preconditions but process context, which the caller
    // promises (see above); the C side waits with `rcu_barrier()`.
    unsafe { nvmet_mem_wait_retired() }
}

/// What [`PageIndex::insert`] did.
pub(crate) enum Inserted {
    /// The slot was empty: the page went in; here is a reference to it.
    Ours(StorePage),
    /// Another page was there first: here is a reference to it; the page
    /// offered was dropped.
    Theirs(StorePage),
}

/// The pages of a store by index: an xarray owning one reference on each,
/// and an end at and beyond which no page is inserted.
///
/// # Invariants
///
/// `xa` is an initialised xarray whose every entry is a page on which the
/// xarray owns one reference; a page that leaves it while the index is
/// shared keeps that reference until an RCU grace period has passed.
/// `end` changes only under the xarray's lock.
#[pin_data(PinnedDrop)]
pub(crate) struct PageIndex {
    #[pin]
    xa: Opaque<bindings::xarray>,
    end: AtomicUsize,
}

// SAFETY: the xarray synchronises itself (RCU for lookups, its spinlock for
// changes) and the pages it holds are `Send`.
unsafe impl Send for PageIndex {}
// SAFETY: every method takes `&self` and is safe to call concurrently, for
// the same reason.
unsafe impl Sync for PageIndex {}

impl PageIndex {
    /// An empty index.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `xa_init` initialises the xarray in place; it is pinned.
            xa <- Opaque::ffi_init(|xa| unsafe { nvmet_mem_xa_init(xa) }),
            end: AtomicUsize::new(usize::MAX),
        })
    }

    fn raw(&self) -> *mut bindings::xarray {
        self.xa.get()
    }

    /// The page at `index`, if any. Lock-free (RCU).
    pub(crate) fn get(&self, index: usize) -> Option<StorePage> {
        // SAFETY: an initialised xarray (type invariant); the C side returns
        // a page with a reference taken for us, or NULL.
        let page = unsafe { nvmet_mem_xa_get(self.raw(), index) };
        // INVARIANT: the reference taken by the lookup.
        NonNull::new(page).map(StorePage)
    }

    /// Looks up the pages at `first`, `first + 1`, ... (at most `count`
    /// and [`PageRun::LEN`]) into `run`, in one walk of the index: for
    /// each, what [`PageIndex::get`] gives. What `run` held before is put.
    /// Lock-free (RCU).
    pub(crate) fn get_run(&self, first: usize, count: usize, run: &mut PageRun) {
        run.put_rest();
        let n = count.min(PageRun::LEN);
        if n > 0 {
            // SAFETY: an initialised xarray (type invariant); `run.pages` takes
            // `n <= LEN` pointers (`MaybeUninit<T>` is laid out as `T`), in each
            // a page with a reference taken for us, or NULL.
            unsafe {
                nvmet_mem_xa_get_run(
                    self.raw(),
                    first,
                    run.pages.as_mut_ptr().cast(),
                    n as c_uint,
                )
            };
        }
        // INVARIANT: slots `0..n` are initialised and hold the references
        // just taken.
        run.first = first;
        run.next = 0;
        run.n = n;
    }

    /// Looks up the pages at `first`, `first + 1`, ... (at most `count` and
    /// [`PageRun::LEN`]) in one walk of the index, without references: they
    /// can be read while `section` lasts.
    pub(crate) fn peek_run<'a>(
        &'a self,
        first: usize,
        count: usize,
        _section: &'a Guard,
    ) -> PeekRun<'a> {
        let n = count.min(PageRun::LEN);
        let mut run = PeekRun {
            first,
            n,
            pages: [const { MaybeUninit::uninit() }; PageRun::LEN],
            _section: PhantomData,
        };
        // SAFETY: an initialised xarray (type invariant) and the RCU read lock
        // held (the guard's invariant); `run.pages` takes `n <= LEN` pointers
        // (`MaybeUninit<T>` is laid out as `T`), each a page or NULL.
        unsafe {
            nvmet_mem_xa_peek_run(
                self.raw(),
                first,
                run.pages.as_mut_ptr().cast(),
                n as c_uint,
            )
        };
        // INVARIANT: slots `0..n` are initialised with what the section found.
        run
    }

    /// Puts `page` at `index` unless a page is there already, allocating
    /// xarray nodes with `GFP_NOIO`. Fails with `ERANGE` if `index` lies at
    /// or beyond the end (see [`PageIndex::set_end`]), then or later: the
    /// check and the insertion are one critical section. May sleep.
    pub(crate) fn insert(&self, index: usize, page: NewPage) -> Result<Inserted> {
        let page = page.0;
        let mut found = core::ptr::null_mut();
        // On success the xarray takes over our reference on `page` and the C
        // side takes another for us; otherwise ours stays ours, and `found`
        // is set only with 1.
        // The page is one that no index has held (`NewPage`'s invariant), so
        // the xarray's reference on it is retired at most once.
        // SAFETY: an initialised xarray, a page we hold a reference on (as
        // above), and `end` and `found` valid for the call.
        let ret = unsafe {
            nvmet_mem_xa_insert(self.raw(), index, page.raw(), self.end.as_ptr(), &mut found)
        };
        match ret {
            // INVARIANT: the xarray owns the reference `page` had; the C
            // side took the one `page` now stands for.
            0 => Ok(Inserted::Ours(page)),
            // INVARIANT: the C side took a reference on the page found.
            1 => NonNull::new(found)
                .map(|p| Inserted::Theirs(StorePage(p)))
                .ok_or(EINVAL),
            err => Err(Error::from_errno(err)),
        }
    }

    /// Sets the index at and beyond which [`PageIndex::insert`] refuses
    /// pages. An insertion either completes before this, leaving a page
    /// that the caller then finds beyond the end, or sees the new end.
    pub(crate) fn set_end(&self, end: usize) {
        // SAFETY: an initialised xarray; the C side writes `end` under the
        // xarray's lock (type invariant) and reads nothing else.
        unsafe { nvmet_mem_xa_set_end(self.raw(), self.end.as_ptr(), end) };
    }

    /// Removes the page at `index`, if any; whether there was one. Readers
    /// that found it may still read it: the index's reference is put after
    /// an RCU grace period.
    pub(crate) fn remove(&self, index: usize) -> bool {
        // SAFETY: an initialised xarray; the C side hands the entry's
        // reference to an RCU callback.
        unsafe { nvmet_mem_xa_remove(self.raw(), index) }
    }

    /// The lowest index in `[from, last]` that holds a page. Visits only
    /// the xarray nodes that exist, not every index.
    pub(crate) fn next_present(&self, from: usize, last: usize) -> Option<usize> {
        let mut index = from;
        // SAFETY: an initialised xarray; the C side writes only `index`.
        unsafe { nvmet_mem_xa_find(self.raw(), &mut index, last) }.then_some(index)
    }
}

#[pinned_drop]
impl PinnedDrop for PageIndex {
    fn drop(self: Pin<&mut Self>) {
        // Process context: an object is freed when its last reference goes,
        // from configfs or from a namespace's disable, both of which sleep.
        let mut from = 0;
        while let Some(i) = self.next_present(from, usize::MAX) {
            // No one else uses the index any more: every reader borrows it,
            // and this is its drop. So no reader can be looking at the page
            // to need it kept for a grace period.
            // SAFETY: an initialised xarray, as above; the entry's reference
            // passes to us.
            let page = unsafe { nvmet_mem_xa_erase(self.raw(), i) };
            // INVARIANT: the xarray's reference, now ours.
            drop(NonNull::new(page).map(StorePage));
            super::cond_resched();
            match i.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
        // SAFETY: an initialised xarray, empty now; frees its nodes.
        unsafe { nvmet_mem_xa_destroy(self.raw()) };
    }
}
