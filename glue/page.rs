// SPDX-License-Identifier: GPL-2.0

//! Store pages and the index that holds them.
//!
//! A [`StorePage`] is a page of the store with its sequence count. The
//! [`PageIndex`] owns its pages: an XArray of [`RcuBox`]es, which free
//! their page a grace period after they are dropped. So a lookup takes no
//! lock and no reference: it finds the page under the RCU read lock
//! ([`XArray::load_rcu`]), and the page stays a page of the store, with
//! its bytes and its count, until the reader's read-side critical section
//! ends, even if a deallocation removes it meanwhile. The pages a lookup
//! hands out borrow the section's [`Guard`], so no safe code touches a page
//! after its section. An insertion is a compare-exchange from an empty
//! slot ([`kernel::xarray::Guard::insert`]), under the XArray's lock.
//!
//! Copies into a page take the page's writer bit and copies out of it take
//! nothing but retry if a writer intervened (the sequence count), so each
//! logical block is read whole. Both are byte-wise atomic copies between
//! the page and a chunk of the data buffer that [`SgCursor`] maps (see
//! `Page::read_bytewise_atomic`).

use super::sg::{SgCursor, Step};
use kernel::alloc::{flags, AllocError, NumaNode};
use kernel::interrupt::local_bh_disable;
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::scatterlist::SgChunk;
use kernel::sync::atomic::{Acquire, Atomic, Full, Relaxed, Release};
use kernel::sync::barrier::{smp_mb, Read};
use kernel::sync::rcu::{Guard, RcuBox, RcuBoxBatch};
use kernel::task::cond_resched;
use kernel::xarray::{AllocKind, RcuSlots, XArray};

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

/// The sequence count of a page: even while no writer holds the page, odd
/// while one changes it. Writers serialise on the low bit with bottom
/// halves off (a bit spinlock that a softirq on the same CPU cannot spin
/// on: nvmet-fc may execute from one); readers take nothing: they note the
/// count, copy, and copy again if the count moved meanwhile. A reader that
/// keeps losing to writers takes the bit itself after a few tries, so its
/// work is bounded. A logical block is at most a page and never crosses
/// one, so a reader sees each block whole, old or new, however the host's
/// buffer splits it.
///
/// The count is 32 bits wide, as the kernel's `seqcount_t`: it wraps
/// after 2^31 changes of one page, and a reader is fooled only if exactly
/// that many changes land between its two readings.
struct SeqCount(Atomic<u32>);

impl SeqCount {
    /// Runs `f` holding the writer bit: no writer and no reader runs at the
    /// same time; `changed` says whether `f` changes the page (readers then
    /// retry). `f` must not sleep (bottom halves are off).
    fn write<R>(&self, changed: bool, f: impl FnOnce() -> R) -> R {
        let _bh = local_bh_disable();
        let s = loop {
            let s = self.0.load(Relaxed);
            // A successful exchange is a full barrier: odd, then the bytes.
            if s & 1 == 0 && self.0.cmpxchg(s, s + 1, Full).is_ok() {
                break s;
            }
            kernel::processor::cpu_relax();
        };
        let ret = f();
        // Every byte is written before the count is even again; it moves on
        // by 2 after a change.
        self.0
            .store(if changed { s.wrapping_add(2) } else { s }, Release);
        ret
    }

    /// Waits until no writer holds the page, and returns the count, for
    /// [`SeqCount::retry`] after a copy out of the page.
    ///
    /// KCSAN has nothing to be told about the copy that follows: it is
    /// `memcpy()` called from Rust, which KCSAN does not instrument (see
    /// `atomic_per_byte_memcpy`).
    #[inline]
    fn read_begin(&self) -> u32 {
        loop {
            // Pairs with the writer's release: the count, then the bytes.
            let s = self.0.load(Acquire);
            if s & 1 == 0 {
                return s;
            }
            kernel::processor::cpu_relax();
        }
    }

    /// Whether a writer took the page since [`SeqCount::read_begin`]
    /// returned `s`: the copy made in between must be made again.
    #[inline]
    fn retry(&self, s: u32) -> bool {
        // The copy's loads complete before the count is read again.
        smp_mb(Read);
        self.0.load(Relaxed) != s
    }
}

/// Reads `len` bytes at `off` of `page`, as of one moment, with `op(kp,
/// at, chunk, n)` for each piece of the buffer at `with`: again, with the
/// cursor back where it was, while a writer intervenes, under the writer
/// bit after [`READ_TRIES`]. `Ok(false)` if `op` found a difference.
#[inline]
fn read_page(
    page: &StorePage,
    off: usize,
    len: usize,
    with: &mut SgCursor<'_>,
    op: impl Fn(&Page, usize, &mut SgChunk<'_>, usize) -> Result<bool> + Copy,
) -> Result<bool> {
    check(off, len)?;
    // Most often the bytes lie in one chunk of the buffer, and no writer
    // intervenes: one copy, without the walk.
    let mut tried = false;
    let once = with.in_one_chunk(len, |chunk| {
        tried = true;
        let s = page.seq.read_begin();
        let ret = op(&page.page, off, chunk, len);
        // An error ends the command whatever a writer did.
        (ret.is_err() || !page.seq.retry(s)).then_some(ret)
    });
    match once {
        Some(ret) => ret,
        None => read_page_walk(page, off, len, with, op, tried),
    }
}

/// [`read_page`] when the bytes span chunks of the buffer or a writer
/// intervened (`tried`: one optimistic try is spent already): a function of
/// its own, so that the common case does not pay for its registers.
#[inline(never)]
fn read_page_walk(
    page: &StorePage,
    off: usize,
    len: usize,
    with: &mut SgCursor<'_>,
    op: impl Fn(&Page, usize, &mut SgChunk<'_>, usize) -> Result<bool>,
    tried: bool,
) -> Result<bool> {
    let mut step = |chunk: &mut SgChunk<'_>, done: usize, n: usize| {
        Ok(match op(&page.page, off + done, chunk, n)? {
            true => Step::Done,
            false => Step::Stop,
        })
    };
    // A difference is kept without checking the count: each byte that `op`
    // compared was the page's at some moment of the try (a copy sees every
    // byte old or new, each on its own), so the page differed from the
    // buffer then, and the command may be ordered at that moment.
    for _ in u32::from(tried)..READ_TRIES {
        let s = page.seq.read_begin();
        let unchanged = || !page.seq.retry(s);
        if let Some(ret) = with.for_each_or_back(len, &mut step, unchanged) {
            return ret;
        }
    }
    page.seq.write(false, || with.for_each(len, step))
}

/// A page of the store and its sequence count.
pub(crate) struct StorePage {
    seq: SeqCount,
    /// Set when the page is retired (see [`mark_retired`]), read when it is
    /// freed. Fits beside the count: the page still takes 32 bytes of slab
    /// with its RCU head.
    retired: Atomic<bool>,
    page: Page,
}

impl Drop for StorePage {
    fn drop(&mut self) {
        if self.retired.load(Relaxed) {
            // The RCU callback that frees a retired page: it is back.
            RETIRED.fetch_sub(1, Relaxed);
        }
    }
}

impl StorePage {
    /// Copies `len` bytes from the buffer at `from` to `off` of the page,
    /// holding the page's writer bit.
    /// A buffer too short for `len` bytes changes nothing.
    pub(crate) fn write_from(&self, off: usize, len: usize, from: &mut SgCursor<'_>) -> Result {
        check(off, len)?;
        if !from.has(len) {
            return Err(EINVAL);
        }
        self.seq
            .write(true, || {
                from.for_each(len, |chunk, done, n| {
                    copy_in(&self.page, off + done, chunk, n).map(|()| Step::Done)
                })
            })
            .map(|_| ())
    }

    /// Fills `len` bytes at `off` with zeroes, holding the writer bit.
    pub(crate) fn zero(&self, off: usize, len: usize) -> Result {
        check(off, len)?;
        self.seq.write(true, || {
            let mut done = 0;
            while done < len {
                let n = ZEROES.len().min(len - done);
                // SAFETY: `ZEROES` is valid for `n` bytes and never written;
                // the readers that race the copy read with `copy_out`.
                unsafe {
                    self.page
                        .write_bytewise_atomic(ZEROES.as_ptr(), off + done, n)?
                };
                done += n;
            }
            Ok(())
        })
    }

    /// Copies `len` bytes at `off` of the page to the buffer at `to`, as of
    /// one moment (no writer's copy is seen halfway).
    pub(crate) fn read_into(&self, off: usize, len: usize, to: &mut SgCursor<'_>) -> Result {
        read_page(self, off, len, to, |kp, at, chunk, n| {
            copy_out(kp, at, chunk, n).map(|()| true)
        })
        .map(|_| ())
    }

    /// Whether the next `len` bytes of the buffer equal `len` bytes at
    /// `off` of the page, as of one moment. The cursor's position is
    /// unspecified after a difference.
    pub(crate) fn equals(&self, off: usize, len: usize, with: &mut SgCursor<'_>) -> Result<bool> {
        read_page(self, off, len, with, compare)
    }
}

/// A page fresh from the allocator, which no index holds or has held: the
/// only kind [`PageIndex::insert`] takes.
pub(crate) struct NewPage(RcuBox<StorePage>);

impl NewPage {
    /// Allocates a zeroed page on `nid` (or anywhere for -1) with
    /// `GFP_NOIO`, failing rather than looping in reclaim when memory is
    /// short, without a warning. May sleep.
    pub(crate) fn alloc(nid: i32) -> Result<Self, AllocError> {
        let node = if nid < 0 {
            NumaNode::NO_NODE
        } else {
            NumaNode::new(nid).map_err(|_| AllocError)?
        };
        // An I/O path's allocation: no I/O recursion, and failure rather
        // than the OOM killer: the command then completes with an error.
        let gfp = flags::GFP_NOIO | flags::__GFP_NOWARN | flags::__GFP_RETRY_MAYFAIL;
        let page = Page::alloc_page_node(node, gfp | flags::__GFP_ZERO)?;
        let page = StorePage {
            seq: SeqCount(Atomic::new(0)),
            retired: Atomic::new(false),
            page,
        };
        Ok(Self(RcuBox::new(page, gfp)?))
    }
}

/// Pages retired and not yet freed: they left an index (or lost an
/// insertion race) and are freed a grace period later.
static RETIRED: Atomic<usize> = Atomic::new(0);

/// Pages that the stores have retired and that are not freed yet: memory
/// on its way back, without anyone waiting for it.
pub(crate) fn retired_pages() -> usize {
    RETIRED.load(Relaxed)
}

/// Marks `page` retired and counts it in [`retired_pages`], before it is
/// dropped: readers may still be reading it, and it is freed (and uncounted)
/// after a grace period, by a callback that sees both stores.
fn mark_retired(page: &RcuBox<StorePage>) {
    page.retired.store(true, Relaxed);
    RETIRED.fetch_add(1, Relaxed);
}

/// Drops `page`, which readers may still be reading: it is freed after a
/// grace period, and counted in [`retired_pages`] until then.
fn retire(page: RcuBox<StorePage>) {
    mark_retired(&page);
    drop(page);
}

/// Pages that one command, or the freeing of one object, removes: they are
/// retired together, one RCU callback for up to [`Retiring::BATCH`] of
/// them, queued when the batch is full or dropped.
pub(crate) struct Retiring(RcuBoxBatch<StorePage>);

impl Retiring {
    /// The most pages one RCU callback frees: it frees them all at once, in
    /// softirq context.
    const BATCH: usize = 64;

    /// No page yet. The batch allocates its callback head without sleeping
    /// or reclaiming (removals run on the I/O path, and may run in an RCU
    /// read-side critical section): if that fails, its pages go one
    /// callback each, as without a batch.
    pub(crate) fn new() -> Self {
        Self(RcuBoxBatch::new(flags::GFP_NOWAIT | flags::__GFP_NOWARN))
    }

    fn add(&mut self, page: RcuBox<StorePage>) {
        mark_retired(&page);
        self.0.push(page);
        if self.0.len() >= Self::BATCH {
            self.0.queue();
        }
    }
}

/// What [`PageIndex::insert`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inserted {
    /// The slot was empty: the page went in.
    Ours,
    /// Another page was there first: the page offered was dropped.
    Theirs,
}

/// The pages of a store by index, and an end at and beyond which no page
/// is inserted.
///
/// # Invariants
///
/// `end` changes only under the XArray's lock.
#[pin_data(PinnedDrop)]
pub(crate) struct PageIndex {
    #[pin]
    xa: XArray<RcuBox<StorePage>>,
    end: Atomic<usize>,
}

impl PageIndex {
    /// An empty index.
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // A lock class of its own, so that lockdep and /proc/lock_stat
            // name the store's lock: only insertion and removal take it.
            xa <- kernel::new_xarray!(AllocKind::Alloc, "nvmet_mem_pages"),
            end: Atomic::new(usize::MAX),
        })
    }

    /// The page at `index`, if any, as the read section `section` finds it.
    pub(crate) fn peek<'a>(&self, index: usize, section: &'a Guard) -> Option<&'a StorePage> {
        self.xa.load_rcu(index, section)
    }

    /// The pages at `first`, `first + 1`, ... (`None` for a hole), as the
    /// read section `section` finds them, one walk of the index for them
    /// all.
    pub(crate) fn pages_from<'a>(
        &'a self,
        first: usize,
        section: &'a Guard,
    ) -> RcuSlots<'a, 'a, RcuBox<StorePage>> {
        self.xa.slots_rcu(first, section)
    }

    /// Puts `page` at `index` unless a page is there already, allocating
    /// XArray nodes with `GFP_NOIO`. Fails with `ERANGE` if `index` lies at
    /// or beyond the end (see [`PageIndex::set_end`]), then or later: the
    /// check and the insertion are one critical section. May sleep.
    pub(crate) fn insert(&self, index: usize, page: NewPage) -> Result<Inserted> {
        let mut xa = self.xa.lock();
        if index >= self.end.load(Relaxed) {
            return Err(ERANGE);
        }
        let ret = xa.insert(index, page.0, flags::GFP_NOIO | flags::__GFP_NOWARN);
        // The insertion may have dropped the lock to allocate, and a shrink
        // moved the end meanwhile: then the page goes again, before the lock
        // is dropped, so that the shrink, which set the end under the lock,
        // finds nothing of ours beyond it. A reader may have found it: it is
        // freed after a grace period.
        if index >= self.end.load(Relaxed) {
            if ret.is_ok() {
                if let Some(page) = xa.remove(index) {
                    retire(page);
                }
            }
            return Err(ERANGE);
        }
        match ret {
            Ok(()) => Ok(Inserted::Ours),
            Err(e) if e.error == EBUSY => {
                // It was never visible, but dropped it too goes a grace
                // period later.
                retire(e.value);
                Ok(Inserted::Theirs)
            }
            Err(e) => Err(e.error),
        }
    }

    /// Sets the index at and beyond which [`PageIndex::insert`] refuses
    /// pages. An insertion either completes before this, leaving a page
    /// that the caller then finds beyond the end, or sees the new end.
    pub(crate) fn set_end(&self, end: usize) {
        let _xa = self.xa.lock();
        // INVARIANT: under the lock.
        self.end.store(end, Relaxed);
    }

    /// Removes the page at `index`, if any, into `retiring`, calling
    /// `removed` if there was one before the index's lock is dropped (see
    /// [`PageIndex::missing_and`]; it runs under a spinlock and must not
    /// sleep); whether there was one. Readers that found it may still read
    /// it: it is freed after an RCU grace period.
    pub(crate) fn remove(
        &self,
        index: usize,
        retiring: &mut Retiring,
        removed: impl FnOnce(),
    ) -> bool {
        let page = {
            let mut xa = self.xa.lock();
            let page = xa.remove(index);
            if page.is_some() {
                removed();
            }
            page
        };
        let found = page.is_some();
        if let Some(page) = page {
            retiring.add(page);
        }
        found
    }

    /// Whether no page is at `index` and `also()` holds, both under the
    /// index's lock, which insertions and removals take: what `also` reads
    /// of a count that removals update under it (see [`PageIndex::remove`])
    /// agrees with the page's absence. `also` runs under a spinlock and
    /// must not sleep.
    pub(crate) fn missing_and(&self, index: usize, also: impl FnOnce() -> bool) -> bool {
        let xa = self.xa.lock();
        xa.get(index).is_none() && also()
    }

    /// The lowest index in `[from, last]` that holds a page. Visits only
    /// the XArray nodes that exist, not every index.
    /// Takes no lock.
    pub(crate) fn next_present(&self, from: usize, last: usize) -> Option<usize> {
        self.xa.find_next_index(from).filter(|&index| index <= last)
    }
}

#[pinned_drop]
impl PinnedDrop for PageIndex {
    fn drop(self: Pin<&mut Self>) {
        // Process context: an object is freed when its last reference goes,
        // from configfs or from a namespace's disable, both of which sleep.
        // The pages go one at a time, yielding the CPU between them, so that
        // a large store is not one long loop for the XArray's own drop.
        let mut retiring = Retiring::new();
        let mut from = 0;
        while let Some(i) = self.next_present(from, usize::MAX) {
            self.remove(i, &mut retiring, || ());
            cond_resched();
            match i.checked_add(1) {
                Some(next) => from = next,
                None => break,
            }
        }
    }
}
