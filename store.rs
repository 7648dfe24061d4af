// SPDX-License-Identifier: GPL-2.0

//! The page store: a namespace's bytes in an index of pages (safe Rust).
//!
//! Page `i` holds bytes `[i * PAGE_SIZE, (i + 1) * PAGE_SIZE)` of the
//! namespace. A page is allocated, zeroed, on the first write that touches
//! it; reads of pages never written return zeroes. Deallocation frees whole
//! pages and zeroes the covered part of partial ones.
//!
//! Concurrency: reads, compares and writes find a run of pages without a
//! lock and copy them in one RCU read section, taking no reference; a
//! write to a missing page allocates one and inserts it with a
//! compare-exchange, and the loser of a race uses the winner's page.
//! Deallocation erases the slot and frees the page after a grace period,
//! so a reader or writer in a section that found the page still copies it
//! whole (a write that lands in a page being deallocated is ordered before
//! the deallocation, which NVMe allows for overlapping commands). Each
//! logical block (at most a page, never across pages) is copied whole:
//! writers of one page serialise on the page's own lock, readers retry if
//! a writer intervened. Nothing is shared by the whole namespace on those paths but
//! the index's RCU lookup; the page counter changes only when a page is
//! allocated or freed and sits on its own cache line.

use crate::glue::{retired_pages, Inserted, NewPage, PageIndex, Retiring, SgCursor, StorePage};
use crate::nvme::{Status, SC_CAP_EXCEEDED, SC_DNR, SC_INTERNAL, SC_LBA_RANGE};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use kernel::mm::{si_mem_available, totalram_pages};
use kernel::page::{PAGE_SHIFT, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::rcu;
use kernel::task::cond_resched;
use kernel::time::{delay::fsleep, Delta};

// A page's index is a `usize` (the xarray's `unsigned long`). Where that is
// 32 bits, the pages of a namespace beyond 16 TiB would alias those 16 TiB
// below; Kconfig makes the driver depend on 64BIT, and this says so here.
const _: () = assert!(usize::BITS >= 64);

/// Memory that the stores leave to the rest of the system, in pages: a
/// page is allocated only while more than this much memory is available
/// (`MemAvailable`). Module-wide, as memory is; configfs sets it
/// (`reserve_memory`), the module's load sets the default
/// ([`default_reserve_pages`]), both with [`set_reserve_pages`].
pub(crate) static RESERVE_PAGES: AtomicUsize = AtomicUsize::new(0);

/// Pages that the stores may still allocate before `MemAvailable` is read
/// again (see [`above_reserve_with`]).
static HEADROOM: AtomicUsize = AtomicUsize::new(0);

/// The most pages allocated between two reads of `MemAvailable`: 1 MiB.
const HEADROOM_MAX: usize = 256;

/// Sets the reserve to `pages`; the next new page reads `MemAvailable`.
pub(crate) fn set_reserve_pages(pages: usize) {
    RESERVE_PAGES.store(pages, Ordering::Relaxed);
    HEADROOM.store(0, Ordering::Relaxed);
}

/// The default reserve: 1/16 of RAM, so that however many objects promise
/// however much, hosts that fill them cannot drive the target into the OOM
/// killer.
pub(crate) fn default_reserve_pages() -> usize {
    totalram_pages() / 16
}

/// Whether a new page leaves the reserve untouched. The pages that
/// removals have retired count as available: they are freed a grace period
/// after their removal, so a write right after a large deallocation is not
/// refused for memory on its way back, and no write waits for it.
fn above_reserve() -> bool {
    above_reserve_with(|| si_mem_available().saturating_add(retired_pages()))
}

/// Whether a new page leaves the reserve untouched, `available` giving
/// `MemAvailable` in pages. That reading (`si_mem_available()`) walks every
/// memory zone, so it is not taken for every page: each reading grants the
/// pages after it up to 1/64 of the distance to the reserve, at most
/// [`HEADROOM_MAX`], and the stores' own allocations cannot cross the
/// reserve between two readings. Near the reserve (less than 64 pages
/// above it) every page reads it. What the rest of the system allocates
/// meanwhile is what the reserve is for, as before.
fn above_reserve_with(available: impl FnOnce() -> usize) -> bool {
    if HEADROOM
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| h.checked_sub(1))
        .is_ok()
    {
        return true;
    }
    let (avail, reserve) = (available(), RESERVE_PAGES.load(Ordering::Relaxed));
    if avail <= reserve {
        return false;
    }
    HEADROOM.store(
        ((avail - reserve) / 64).min(HEADROOM_MAX),
        Ordering::Relaxed,
    );
    true
}

/// Where to allocate and how much: fixed while a namespace is bound.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// NUMA node for new pages, -1 for any.
    pub(crate) nid: i32,
    /// At most this many pages, 0 for no limit.
    pub(crate) max_pages: usize,
}

/// Why a write stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WriteError {
    /// It needs a page and allocating one may sleep, which the caller
    /// said it must not.
    WouldSleep,
    /// It failed with `status` at namespace byte `pos`.
    Failed { status: Status, pos: u64 },
}

/// A piece of a byte range that lies within one page.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) struct Piece {
    /// Page index.
    pub(crate) index: usize,
    /// Offset in the page.
    pub(crate) page_off: usize,
    /// Offset from the start of the range.
    pub(crate) off: usize,
    /// Length.
    pub(crate) len: usize,
}

/// Splits the byte range `[pos, pos + len)` at page boundaries.
pub(crate) fn pieces(pos: u64, len: usize) -> impl Iterator<Item = Piece> {
    let mut off = 0usize;
    core::iter::from_fn(move || {
        if off >= len {
            return None;
        }
        let at = pos + off as u64;
        let page_off = (at as usize) & (PAGE_SIZE - 1);
        let n = (PAGE_SIZE - page_off).min(len - off);
        let piece = Piece {
            index: (at >> PAGE_SHIFT) as usize,
            page_off,
            off,
            len: n,
        };
        off += n;
        Some(piece)
    })
}

/// How long a writer that finds an object at its cap waits at a time for
/// the pages being allocated meanwhile (one of them may be the page it
/// needs), and how many times at most it looks again (20 ms of waits at
/// least).
const CAP_WAIT: Delta = Delta::from_micros(100);
const CAP_TRIES: u32 = 200;

/// Pages a reader looks up and copies in one RCU read section: 64 KiB (one
/// page at least), so that a long read lets grace periods by between runs.
const READ_SECTION_PAGES: usize = {
    let n = (64 << 10) / PAGE_SIZE;
    if n == 0 {
        1
    } else {
        n
    }
};

/// The index of the last page that `[pos, pos + len)` touches (of the
/// first, if `len` is 0).
fn last_page(pos: u64, len: usize) -> usize {
    (pos.saturating_add(len.saturating_sub(1) as u64) >> PAGE_SHIFT) as usize
}

/// Counters on a cache line of their own, away from the index's root,
/// which every lookup reads.
#[repr(align(64))]
struct PageCount {
    /// Pages held or being allocated, times [`ONE_HELD`], plus the pages
    /// being allocated under a cap (counted, not yet in the index nor given
    /// back): one word, so that a writer refused at the cap reads both at
    /// one moment.
    held: AtomicU64,
    /// Pages ever allocated.
    allocated: AtomicU64,
}

/// A page in [`PageCount::held`]; the bits below count allocations in
/// flight, one per writer in [`Store::page_for_write`], far fewer than
/// 2^20 tasks.
const ONE_HELD: u64 = 1 << 20;
/// An allocation in flight in [`PageCount::held`].
const IN_FLIGHT: u64 = 1;

/// The pages held that `count` (a [`PageCount::held`]) says.
fn held(count: u64) -> u64 {
    count / ONE_HELD
}

/// The pages of one memory object.
///
/// Dropping it drops the index, which frees every page it holds (a grace
/// period later).
#[pin_data]
pub(crate) struct Store {
    #[pin]
    pages: PageIndex,
    used: PageCount,
}

fn internal(_: Error) -> Status {
    SC_INTERNAL | SC_DNR
}

impl Store {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            pages <- PageIndex::new(),
            used: PageCount {
                held: AtomicU64::new(0),
                allocated: AtomicU64::new(0),
            },
        })
    }

    /// Pages currently allocated.
    pub(crate) fn used_pages(&self) -> usize {
        held(self.used.held.load(Ordering::Relaxed)) as usize
    }

    /// Pages allocated since the store was created (freed ones included).
    pub(crate) fn allocated_pages(&self) -> u64 {
        self.used.allocated.load(Ordering::Relaxed)
    }

    /// Calls `f` with each piece of `[pos, pos + len)` and its page as a
    /// reader sees it (`None` for a hole), in order, while `f` returns
    /// true; whether it always did. The pages are looked up a run of
    /// [`READ_SECTION_PAGES`] at a time, and each run is looked up and read
    /// in one RCU read section, without page references: `f` must not
    /// sleep.
    fn read_pieces<F>(&self, pos: u64, len: usize, mut f: F) -> Result<bool, Status>
    where
        F: FnMut(Piece, Option<&StorePage>) -> Result<bool>,
    {
        let last = last_page(pos, len);
        let mut rest = pieces(pos, len);
        while let Some(first) = rest.next() {
            // One piece per page: the run's pages are the next `count`.
            let count = last
                .saturating_sub(first.index)
                .saturating_add(1)
                .min(READ_SECTION_PAGES);
            let section = rcu::read_lock();
            let mut run = self.pages.pages_from(first.index, &section);
            let mut p = first;
            for left in (0..count).rev() {
                if !f(p, run.next().flatten()).map_err(internal)? {
                    return Ok(false);
                }
                // The run's last piece: the next is the next run's first.
                if left == 0 {
                    break;
                }
                let Some(next) = rest.next() else { break };
                p = next;
            }
        }
        Ok(true)
    }

    /// Copies the namespace bytes `[pos, pos + len)` to the buffer at `to`.
    /// Never sleeps.
    pub(crate) fn read(&self, pos: u64, len: usize, to: &mut SgCursor<'_>) -> Result<(), Status> {
        self.read_pieces(pos, len, |p, page| {
            match page {
                Some(page) => page.read_into(p.page_off, p.len, to),
                None => to.zero(p.len),
            }
            .map(|()| true)
        })
        .map(|_| ())
    }

    /// Whether the namespace bytes `[pos, pos + len)` equal the buffer at
    /// `with`. Never sleeps.
    pub(crate) fn equals(
        &self,
        pos: u64,
        len: usize,
        with: &mut SgCursor<'_>,
    ) -> Result<bool, Status> {
        self.read_pieces(pos, len, |p, page| match page {
            Some(page) => page.equals(p.page_off, p.len, with),
            None => with.is_zero(p.len),
        })
    }

    /// Copies the buffer at `from` to the namespace bytes `[pos, pos +
    /// len)`. Pages that are missing are allocated if `may_sleep`; if not,
    /// the write stops at the first one with [`WriteError::WouldSleep`],
    /// having written the pages before it. The pages are looked up and
    /// written a run of [`READ_SECTION_PAGES`] at a time, each run in one
    /// RCU read section.
    pub(crate) fn write(
        &self,
        pos: u64,
        len: usize,
        from: &mut SgCursor<'_>,
        limits: Limits,
        may_sleep: bool,
    ) -> Result<(), WriteError> {
        let last = last_page(pos, len);
        let mut rest = pieces(pos, len).peekable();
        while let Some(&first) = rest.peek() {
            let count = last
                .saturating_sub(first.index)
                .saturating_add(1)
                .min(READ_SECTION_PAGES);
            // The pieces of the run whose pages exist, up to the first hole.
            let hole = {
                let section = rcu::read_lock();
                let mut run = self.pages.pages_from(first.index, &section);
                let mut hole = None;
                for _ in 0..count {
                    let Some(&p) = rest.peek() else { break };
                    let Some(page) = run.next().flatten() else {
                        hole = Some(p);
                        break;
                    };
                    rest.next();
                    Self::write_piece(page, p, pos, from)?;
                }
                hole
            };
            let Some(p) = hole else { continue };
            if !may_sleep {
                return Err(WriteError::WouldSleep);
            }
            let at = pos + p.off as u64;
            self.page_for_write(p.index, limits)
                .map_err(|status| WriteError::Failed { status, pos: at })?;
            rest.next();
            let section = rcu::read_lock();
            match self.pages.peek(p.index, &section) {
                Some(page) => Self::write_piece(page, p, pos, from)?,
                // A deallocation took the page since it was inserted: the
                // write is ordered before it, and leaves nothing.
                None => from.skip(p.len).map_err(|e| WriteError::Failed {
                    status: internal(e),
                    pos: at,
                })?,
            }
        }
        Ok(())
    }

    /// Copies the piece `p` of a write at `pos` from the buffer at `from`
    /// into `page`.
    fn write_piece(
        page: &StorePage,
        p: Piece,
        pos: u64,
        from: &mut SgCursor<'_>,
    ) -> Result<(), WriteError> {
        page.write_from(p.page_off, p.len, from)
            .map_err(|e| WriteError::Failed {
                status: internal(e),
                pos: pos + p.off as u64,
            })
    }

    /// Makes sure that a page is at `index`, allocating and inserting one
    /// if it is missing. May sleep.
    pub(crate) fn page_for_write(&self, index: usize, limits: Limits) -> Result<(), Status> {
        let present = |store: &Self| store.pages.peek(index, &rcu::read_lock()).is_some();
        if present(self) {
            return Ok(());
        }
        if !above_reserve() {
            // A writer racing for the same page may have inserted it
            // meanwhile: then there is nothing to allocate.
            return if present(self) {
                Ok(())
            } else {
                Err(SC_CAP_EXCEEDED | SC_DNR)
            };
        }
        let capped = limits.max_pages != 0;
        let mut tries = 0;
        loop {
            if !capped {
                self.used.held.fetch_add(ONE_HELD, Ordering::Relaxed);
                break;
            }
            if self.reserve(limits.max_pages as u64) {
                break;
            }
            // At the cap, or so it seemed. A page being allocated meanwhile
            // may be this very one (its writer counted it first), or may
            // fail and give its place back, as may a deallocation. The cap
            // is reached when, at one moment, the page is missing, no page
            // is being allocated and the count is at the cap: under the
            // index's lock, which insertions take and removals count under.
            let mut count = 0;
            let missing = self.pages.missing_and(index, || {
                count = self.used.held.load(Ordering::Acquire);
                true
            });
            if !missing {
                return Ok(());
            }
            let in_flight = count % ONE_HELD != 0;
            if !in_flight && held(count) >= limits.max_pages as u64 {
                return Err(SC_CAP_EXCEEDED | SC_DNR);
            }
            tries += 1;
            if tries == CAP_TRIES {
                // Allocations that take this long are a transient failure,
                // which the host may retry.
                return Err(SC_INTERNAL);
            }
            // Wait for the allocations in flight, a bounded time (one in
            // reclaim may take long); a place was given back otherwise.
            if in_flight {
                fsleep(CAP_WAIT);
            }
        }
        // Concurrent writers may each pass the reserve check before any of
        // them allocates: the reserve may be undershot by one page per
        // writer, which is what it is sized to absorb.
        let inserted = NewPage::alloc(limits.nid)
            .map_err(|_| ENOMEM)
            .and_then(|new| self.pages.insert(index, new));
        // A capped writer's allocation ends once the page is in the index
        // or its place given back: a writer that sees none in flight sees
        // either.
        let done = if capped { IN_FLIGHT } else { 0 };
        match inserted {
            Ok(Inserted::Ours) => {
                self.used.allocated.fetch_add(1, Ordering::Relaxed);
                self.used.held.fetch_sub(done, Ordering::Release);
                Ok(())
            }
            Ok(Inserted::Theirs) => {
                // Another writer inserted it meanwhile: use theirs.
                self.used.held.fetch_sub(ONE_HELD + done, Ordering::Release);
                Ok(())
            }
            Err(e) => {
                self.used.held.fetch_sub(ONE_HELD + done, Ordering::Release);
                if e == ERANGE {
                    // A shrink moved the end below `index` since the
                    // command checked its range.
                    Err(SC_LBA_RANGE | SC_DNR)
                } else {
                    // The allocator failed although the reserve was not
                    // reached: a transient failure, which the host may
                    // retry.
                    Err(SC_INTERNAL)
                }
            }
        }
    }

    /// Counts a page about to be allocated, and its allocation in flight,
    /// unless `max_pages` are counted already.
    fn reserve(&self, max_pages: u64) -> bool {
        let mut cur = self.used.held.load(Ordering::Relaxed);
        loop {
            if held(cur) >= max_pages {
                return false;
            }
            match self.used.held.compare_exchange(
                cur,
                cur + ONE_HELD + IN_FLIGHT,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Changes the namespace size from `old` to `new` bytes: what lies
    /// beyond a smaller size is dropped (a partial last page is zeroed
    /// beyond it), and the bytes added by a larger size are made to read
    /// zeroes, should a write that raced an earlier shrink have left any.
    /// Visits only pages that exist; process context.
    pub(crate) fn resize(&self, old: u64, new: u64) {
        let end = new.div_ceil(PAGE_SIZE as u64) as usize;
        if new < old {
            // No page is inserted beyond the new end from here on; those
            // inserted before are there for the discard to find.
            self.pages.set_end(end);
            self.discard(new, old - new);
            // A partly used old last page lies wholly at or beyond the new
            // end when the new size ends on a page boundary: the discard
            // only zeroed it.
            let old_end = old.div_ceil(PAGE_SIZE as u64) as usize;
            if old_end > end {
                self.free_pages(end, old_end - 1);
            }
        } else {
            self.discard(old, new - old);
            self.pages.set_end(end);
        }
    }

    /// Deallocates the namespace bytes `[pos, pos + len)`: whole pages are
    /// freed, the covered part of partial pages is zeroed. Visits only the
    /// pages that exist and yields the CPU between pages, so a huge range
    /// is cheap; process context only.
    pub(crate) fn discard(&self, pos: u64, len: u64) {
        let Some(end) = pos.checked_add(len).filter(|_| len != 0) else {
            return;
        };
        let page = PAGE_SIZE as u64;
        let first_full = pos.div_ceil(page);
        let end_full = end / page;
        if first_full >= end_full {
            // No whole page: zero the pieces, at most two pages.
            for p in pieces(pos, len as usize) {
                self.zero_part(p.index, p.page_off, p.len);
            }
            return;
        }
        if pos % page != 0 {
            self.zero_part(
                (pos / page) as usize,
                (pos % page) as usize,
                (first_full * page - pos) as usize,
            );
        }
        if end % page != 0 {
            self.zero_part(end_full as usize, 0, (end % page) as usize);
        }
        self.free_pages(first_full as usize, end_full as usize - 1);
    }

    fn zero_part(&self, index: usize, off: usize, len: usize) {
        let section = rcu::read_lock();
        if let Some(page) = self.pages.peek(index, &section) {
            // The piece lies within the page by construction.
            let _ = page.zero(off, len);
        }
    }

    /// Frees the pages in `[first, last]`; returns how many there were.
    fn free_pages(&self, first: usize, last: usize) -> usize {
        let mut retiring = Retiring::new();
        let mut freed = 0;
        let mut from = first;
        while let Some(i) = self.pages.next_present(from, last) {
            // Uncounted under the index's lock, with the removal: a writer
            // refused at the cap sees the page and its count go together.
            if self.pages.remove(i, &mut retiring, || {
                self.used.held.fetch_sub(ONE_HELD, Ordering::Relaxed);
            }) {
                freed += 1;
            }
            cond_resched();
            match i.checked_add(1) {
                Some(next) if next <= last => from = next,
                _ => break,
            }
        }
        freed
    }
}

#[kunit_tests(nvmet_mem_store)]
mod tests {
    use super::*;
    use crate::glue::{Direction, TestBuffer};

    fn collect(pos: u64, len: usize) -> KVec<Piece> {
        let mut v = KVec::new();
        for p in pieces(pos, len) {
            v.push(p, GFP_KERNEL).unwrap();
        }
        v
    }

    const ANY: Limits = Limits {
        nid: -1,
        max_pages: 0,
    };

    /// The address of the page at `index`, if any: which page it is.
    fn page_at(store: &Store, index: usize) -> Option<*const StorePage> {
        let section = rcu::read_lock();
        store.pages.peek(index, &section).map(core::ptr::from_ref)
    }

    #[test]
    fn pieces_within_one_page() {
        let v = collect(512, 1024);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0],
            Piece {
                index: 0,
                page_off: 512,
                off: 0,
                len: 1024
            }
        );
    }

    #[test]
    fn pieces_across_pages() {
        // 512-byte LBA 7 to LBA 16: crosses two page boundaries.
        let v = collect(7 * 512, 10 * 512);
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v[0].index, v[0].page_off, v[0].off, v[0].len),
            (0, 3584, 0, 512)
        );
        assert_eq!(
            (v[1].index, v[1].page_off, v[1].off, v[1].len),
            (1, 0, 512, 4096)
        );
        assert_eq!(
            (v[2].index, v[2].page_off, v[2].off, v[2].len),
            (2, 0, 4608, 512)
        );
        let total: usize = v.iter().map(|p| p.len).sum();
        assert_eq!(total, 10 * 512);
    }

    #[test]
    fn pieces_empty_and_high() {
        assert_eq!(pieces(4096, 0).count(), 0);
        let high = 1u64 << 40;
        let v = collect(high, 4096);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].index, (high >> PAGE_SHIFT) as usize);
    }

    #[test]
    fn insert_race_uses_the_winner() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let a = NewPage::alloc(-1).unwrap();
        let b = NewPage::alloc(-1).unwrap();
        assert_eq!(store.pages.insert(7, a), Ok(Inserted::Ours));
        let won = page_at(&store, 7);
        assert!(won.is_some());
        // The loser's page is dropped and the winner's stays.
        assert_eq!(store.pages.insert(7, b), Ok(Inserted::Theirs));
        assert_eq!(page_at(&store, 7), won);
        // page_for_write finds it too, without counting a new page.
        assert_eq!(store.page_for_write(7, ANY), Ok(()));
        assert_eq!(page_at(&store, 7), won);
        assert_eq!(store.used_pages(), 0);
        assert_eq!(store.page_for_write(8, ANY), Ok(()));
        assert!(page_at(&store, 8).is_some());
        assert_eq!(store.used_pages(), 1);
    }

    #[test]
    fn retired_pages_count_until_freed() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        for i in 0..200 {
            assert_eq!(store.page_for_write(i, ANY), Ok(()));
        }
        rcu::rcu_barrier();
        let before = retired_pages();
        // Removed in batches of 64 (one full one and the rest) and counted
        // inside one read section, before which no callback that frees them
        // can complete.
        let retired = {
            let _section = rcu::read_lock();
            let mut retiring = Retiring::new();
            for i in 0..100 {
                assert!(store.pages.remove(i, &mut retiring, || ()));
            }
            drop(retiring);
            retired_pages() - before
        };
        // A Deallocate's batches, and the loser of an insertion race, are
        // freed once a barrier has waited for their callbacks.
        let loser = NewPage::alloc(-1).unwrap();
        assert_eq!(store.pages.insert(100, loser), Ok(Inserted::Theirs));
        store.discard(0, 200 * PAGE_SIZE as u64);
        // A page never inserted is not retired: it goes at once.
        drop(NewPage::alloc(-1).unwrap());
        rcu::rcu_barrier();
        assert_eq!((retired, retired_pages()), (100, before));
    }

    /// Asserts that the pages `read_pieces` (a reader's runs) hands out for
    /// `[pos, pos + len)` are those that single lookups find; returns how
    /// many there are.
    fn check_runs(store: &Store, pos: u64, len: usize) -> usize {
        // Checked after the RCU section: a failed assertion ends the test's
        // thread.
        let mut m = 0;
        let mut found = 0;
        let mut differ = None;
        let all = store.read_pieces(pos, len, |p, page| {
            let single = page_at(store, p.index);
            let same = match (page, single) {
                (Some(a), Some(b)) => core::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            };
            if !same && differ.is_none() {
                differ = Some(p.index);
            }
            found += usize::from(page.is_some());
            m += 1;
            Ok(true)
        });
        // The first index where the reader's run and the lookup disagree.
        assert_eq!(differ, None);
        assert_eq!((all, m), (Ok(true), pieces(pos, len).count()));
        found
    }

    #[test]
    fn runs_find_what_single_lookups_find() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let page = PAGE_SIZE;
        // Only index 0: the xarray keeps it in its head, without a node.
        store.page_for_write(0, ANY).unwrap();
        assert_eq!(check_runs(&store, 0, 3 * page), 1);
        // Across xarray nodes (64 slots each), runs and holes, and far out.
        let far = (1usize << 40) >> PAGE_SHIFT;
        for i in [5, 63, 64, 65, 130, far] {
            store.page_for_write(i, ANY).unwrap();
        }
        // 200 pages: several runs of at most READ_SECTION_PAGES.
        assert_eq!(check_runs(&store, 0, 200 * page), 6);
        assert_eq!(check_runs(&store, 63 * page as u64 + 512, 2 * page), 3);
        assert_eq!(
            check_runs(&store, (far as u64 - 2) << PAGE_SHIFT, 4 * page),
            1
        );
        store.discard(0, 2u64 << 40);
        assert_eq!(store.used_pages(), 0);
        assert_eq!(check_runs(&store, 0, 200 * page), 0);
    }

    #[test]
    fn a_reader_keeps_a_removed_page() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let page = PAGE_SIZE;
        let mut data = TestBuffer::new(0xa5, 2 * page).unwrap();
        store
            .write(
                0,
                2 * page,
                &mut data.cursor(Direction::FromSg).unwrap(),
                ANY,
                true,
            )
            .unwrap();
        // Not a whole page: the copy is a memcpy, which KASAN checks.
        let mut out = TestBuffer::new(0, 512).unwrap();
        let (removed, gone, read, next) = {
            let section = rcu::read_lock();
            let mut run = store.pages.pages_from(0, &section);
            let first = run.next().flatten();
            // Removed under the reader's nose: the page is freed only after
            // the section ends, so the reader still reads it, whole (KASAN
            // would report a read of a freed page).
            let removed = store.pages.remove(0, &mut Retiring::new(), || ());
            let gone = store.pages.peek(0, &section).is_none();
            let read =
                first.map(|p| p.read_into(512, 512, &mut out.cursor(Direction::ToSg).unwrap()));
            // The walk goes on beyond the removal.
            let next = run.next().flatten().is_some();
            (removed, gone, read, next)
        };
        assert!(removed && gone && next);
        assert_eq!(read, Some(Ok(())));
        assert!(out.bytes().iter().all(|&b| b == 0xa5));
        // A later reader sees the hole, and the page beside it.
        let mut out = TestBuffer::new(1, 2 * page).unwrap();
        store
            .read(0, 2 * page, &mut out.cursor(Direction::ToSg).unwrap())
            .unwrap();
        assert!(out.bytes()[..page].iter().all(|&b| b == 0));
        assert!(out.bytes()[page..].iter().all(|&b| b == 0xa5));
        let mut same = TestBuffer::new(0xa5, page).unwrap();
        assert_eq!(
            store.equals(
                page as u64,
                page,
                &mut same.cursor(Direction::FromSg).unwrap()
            ),
            Ok(true)
        );
        assert_eq!(
            store.equals(0, page, &mut same.cursor(Direction::FromSg).unwrap()),
            Ok(false)
        );
    }

    #[test]
    fn copies_across_the_pages_of_a_buffer() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let page = PAGE_SIZE;
        // Every page-sized piece of the store straddles two pages of these
        // buffers (and so two chunks of their scatterlists).
        let mut data = TestBuffer::skewed(0, 2 * page, 512).unwrap();
        for (i, b) in data.bytes_mut().iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        store
            .write(
                0,
                2 * page,
                &mut data.cursor(Direction::FromSg).unwrap(),
                ANY,
                true,
            )
            .unwrap();
        let mut out = TestBuffer::skewed(0xee, 2 * page, 3000).unwrap();
        store
            .read(0, 2 * page, &mut out.cursor(Direction::ToSg).unwrap())
            .unwrap();
        assert!(out.bytes() == data.bytes());
        let mut flat = TestBuffer::new(0xee, 2 * page).unwrap();
        store
            .read(0, 2 * page, &mut flat.cursor(Direction::ToSg).unwrap())
            .unwrap();
        assert!(flat.bytes() == data.bytes());
        // A buffer that the command only reads is never written.
        let mut held = TestBuffer::new(0xee, page).unwrap();
        assert!(store
            .read(0, page, &mut held.cursor(Direction::FromSg).unwrap())
            .is_err());
        assert!(held.bytes().iter().all(|&b| b == 0xee));
        assert_eq!(
            store.equals(0, 2 * page, &mut data.cursor(Direction::FromSg).unwrap()),
            Ok(true)
        );
        data.bytes_mut()[page + 7] ^= 1;
        assert_eq!(
            store.equals(0, 2 * page, &mut data.cursor(Direction::FromSg).unwrap()),
            Ok(false)
        );
        // A buffer shorter than the write changes nothing.
        let mut short = TestBuffer::skewed(0x11, page - 1, 512).unwrap();
        assert!(store
            .write(
                0,
                page,
                &mut short.cursor(Direction::FromSg).unwrap(),
                ANY,
                true
            )
            .is_err());
        store
            .read(0, 2 * page, &mut flat.cursor(Direction::ToSg).unwrap())
            .unwrap();
        assert!(flat.bytes() == out.bytes());
        // Holes read as zeroes across the buffer's pages too.
        let mut holes = TestBuffer::skewed(0xee, page, 100).unwrap();
        store
            .read(
                4 * page as u64,
                page,
                &mut holes.cursor(Direction::ToSg).unwrap(),
            )
            .unwrap();
        assert!(holes.bytes().iter().all(|&b| b == 0));
        assert_eq!(
            store.equals(
                4 * page as u64,
                page,
                &mut holes.cursor(Direction::FromSg).unwrap()
            ),
            Ok(true)
        );
    }

    #[test]
    fn discard_over_holes_counts_and_frees() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let far = (1usize << 40) >> PAGE_SHIFT; // the page at 1 TiB
        for i in [0, 1, 5, far] {
            store.page_for_write(i, ANY).unwrap();
        }
        assert_eq!(store.used_pages(), 4);
        // A partial page is zeroed, not freed.
        store.discard(512, 1024);
        assert_eq!(store.used_pages(), 4);
        // Pages 1..=5 (and the holes between): two pages go.
        store.discard(PAGE_SIZE as u64, 5 * PAGE_SIZE as u64);
        assert_eq!(store.used_pages(), 2);
        assert!(page_at(&store, 1).is_none() && page_at(&store, 5).is_none());
        assert!(page_at(&store, 0).is_some());
        // 2 TiB of holes with one page in it, visited page by page it would
        // be half a billion steps; done in one.
        store.discard(0, 2u64 << 40);
        assert_eq!(store.used_pages(), 0);
        assert!(store.pages.next_present(0, usize::MAX).is_none());
    }

    #[test]
    fn resize_drops_and_refuses_beyond_the_end() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let page = PAGE_SIZE as u64;
        store.resize(0, 8 * page);
        for i in 0..8 {
            store.page_for_write(i, ANY).unwrap();
        }
        assert_eq!(
            store.page_for_write(8, ANY).err(),
            Some(SC_LBA_RANGE | SC_DNR)
        );
        // Shrink to 2.5 pages: pages 3..8 go, page 2 stays (zeroed beyond).
        store.resize(8 * page, 2 * page + page / 2);
        assert_eq!(store.used_pages(), 3);
        assert_eq!(
            store.page_for_write(3, ANY).err(),
            Some(SC_LBA_RANGE | SC_DNR)
        );
        assert_eq!(store.used_pages(), 3);
        // Grow to a thin 1 TiB: the end moves, nothing is allocated.
        store.resize(2 * page + page / 2, 1 << 40);
        assert_eq!(store.used_pages(), 3);
        assert!(store
            .page_for_write(((1u64 << 40) / page - 1) as usize, ANY)
            .is_ok());
        assert_eq!(store.used_pages(), 4);
        store.resize(1 << 40, 0);
        assert_eq!(store.used_pages(), 0);
        // Shrinking to a page boundary frees a partly used old last page.
        store.resize(0, 4 * page + 512);
        for i in 0..5 {
            store.page_for_write(i, ANY).unwrap();
        }
        store.resize(4 * page + 512, 4 * page);
        assert_eq!(store.used_pages(), 4);
        assert!(page_at(&store, 4).is_none());
    }

    #[test]
    fn insertion_beyond_the_end_is_refused_whole() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        store.pages.set_end(4);
        // Refused, and nothing is left in the slot: no later erase needed.
        let p = NewPage::alloc(-1).unwrap();
        assert!(matches!(store.pages.insert(4, p), Err(e) if e == ERANGE));
        assert!(page_at(&store, 4).is_none());
        assert!(store.pages.next_present(0, usize::MAX).is_none());
        // A page found beyond the end (a shrink has yet to drop it) is not
        // handed out to a writer either.
        let p = NewPage::alloc(-1).unwrap();
        assert!(matches!(store.pages.insert(3, p), Ok(Inserted::Ours)));
        store.pages.set_end(3);
        let p = NewPage::alloc(-1).unwrap();
        assert!(matches!(store.pages.insert(3, p), Err(e) if e == ERANGE));
        assert!(page_at(&store, 3).is_some());
        // Once the end moves past it, the slot takes a page again and a
        // second writer gets the first one's.
        assert!(store.pages.remove(3, &mut Retiring::new(), || ()));
        store.pages.set_end(8);
        store.page_for_write(3, ANY).unwrap();
        let a = page_at(&store, 3);
        store.page_for_write(3, ANY).unwrap();
        assert!(a.is_some() && page_at(&store, 3) == a);
        assert_eq!(store.used_pages(), 1);
    }

    #[test]
    fn cap_is_enforced_and_released() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let cap = Limits {
            nid: -1,
            max_pages: 2,
        };
        store.page_for_write(0, cap).unwrap();
        store.page_for_write(1, cap).unwrap();
        assert_eq!(
            store.page_for_write(2, cap).err(),
            Some(SC_CAP_EXCEEDED | SC_DNR)
        );
        assert_eq!(store.used_pages(), 2);
        store.discard(0, PAGE_SIZE as u64);
        assert_eq!(store.used_pages(), 1);
        assert!(store.page_for_write(2, cap).is_ok());
    }

    #[test]
    fn reserve_is_kept() {
        let store = KBox::pin_init(Store::new(), GFP_KERNEL).unwrap();
        let any = Limits {
            nid: -1,
            max_pages: 0,
        };
        // No memory is available above a reserve of everything.
        let saved = RESERVE_PAGES.load(Ordering::Relaxed);
        set_reserve_pages(usize::MAX);
        let refused = store.page_for_write(0, any).err();
        set_reserve_pages(saved);
        assert_eq!(refused, Some(SC_CAP_EXCEEDED | SC_DNR));
        assert_eq!(store.used_pages(), 0);
        assert!(store.page_for_write(0, any).is_ok());
        assert_eq!(store.used_pages(), 1);
    }

    #[test]
    fn reserve_read_once_per_headroom() {
        let saved = RESERVE_PAGES.load(Ordering::Relaxed);
        let reads = AtomicUsize::new(0);
        let check = |avail: usize| {
            above_reserve_with(|| {
                reads.fetch_add(1, Ordering::Relaxed);
                avail
            })
        };
        set_reserve_pages(1000);
        // Far above the reserve: one reading per HEADROOM_MAX + 1 pages.
        let granted = (0..1024).filter(|_| check(1000 + 64 * 1000)).count();
        let far = reads.swap(0, Ordering::Relaxed);
        // Less than 64 pages above it: a reading per page.
        set_reserve_pages(1000);
        let near = (0..10).filter(|_| check(1000 + 63)).count();
        let near_reads = reads.swap(0, Ordering::Relaxed);
        // At the reserve: refused, and read again each time.
        let at = (0..3).filter(|_| check(1000)).count();
        let at_reads = reads.swap(0, Ordering::Relaxed);
        set_reserve_pages(saved);
        assert_eq!(
            (granted, far),
            (1024, 1024_usize.div_ceil(HEADROOM_MAX + 1))
        );
        assert_eq!((near, near_reads), (10, 10));
        assert_eq!((at, at_reads), (0, 3));
    }
}
