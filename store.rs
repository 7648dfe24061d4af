// SPDX-License-Identifier: GPL-2.0

//! The page store: a namespace's bytes in an xarray of pages (safe Rust).
//!
//! Page `i` holds bytes `[i * PAGE_SIZE, (i + 1) * PAGE_SIZE)` of the
//! namespace. A page is allocated, zeroed, on the first write that touches
//! it; reads of pages never written return zeroes. Deallocation frees whole
//! pages and zeroes the covered part of partial ones.
//!
//! Every access to a page's bytes happens under the xarray's lock, so a page
//! cannot be freed while it is copied, and two commands never copy into the
//! same page at once. Allocation happens outside the lock.

use crate::ffi::{SgChunk, Status, StorePage};
use crate::io::{SC_CAP_EXCEEDED, SC_DNR, SC_INTERNAL};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::page::{PAGE_SHIFT, PAGE_SIZE};
use kernel::prelude::*;
use kernel::xarray::{AllocKind, XArray};

/// Where to allocate and how much: fixed while a namespace is bound.
#[derive(Clone, Copy)]
pub(crate) struct Limits {
    /// NUMA node for new pages, -1 for any.
    pub(crate) nid: i32,
    /// At most this many pages, 0 for no limit.
    pub(crate) max_pages: usize,
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

/// The pages of one memory object.
///
/// Dropping it drops the XArray, which frees every page it holds.
#[pin_data]
pub(crate) struct Store {
    #[pin]
    pages: XArray<StorePage>,
    used: AtomicUsize,
}

impl Store {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            pages <- XArray::new(AllocKind::Alloc),
            used: AtomicUsize::new(0),
        })
    }

    /// Pages currently allocated.
    pub(crate) fn used_pages(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Copies the namespace bytes at `pos` into `chunk`.
    pub(crate) fn read(&self, pos: u64, chunk: &mut SgChunk<'_>) -> Result<(), Status> {
        for p in pieces(pos, chunk.len()) {
            let pages = self.pages.lock();
            match pages.get(p.index) {
                Some(page) => chunk.read_page(p.off, page, p.page_off, p.len)?,
                None => chunk.zero(p.off, p.len)?,
            }
        }
        Ok(())
    }

    /// Whether the namespace bytes at `pos` equal `chunk`.
    pub(crate) fn equals(&self, pos: u64, chunk: &SgChunk<'_>) -> Result<bool, Status> {
        for p in pieces(pos, chunk.len()) {
            let pages = self.pages.lock();
            if !chunk.equals(p.off, pages.get(p.index), p.page_off, p.len)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether every page under the namespace bytes `[pos, pos + len)` is
    /// allocated, so that a write there needs no allocation (unless a
    /// deallocation frees one meanwhile).
    pub(crate) fn all_present(&self, pos: u64, len: usize) -> bool {
        let pages = self.pages.lock();
        pieces(pos, len).all(|p| pages.get(p.index).is_some())
    }

    /// Copies `chunk` to the namespace bytes at `pos`, allocating pages;
    /// without `may_sleep` the allocations do not sleep.
    pub(crate) fn write(
        &self,
        pos: u64,
        chunk: &SgChunk<'_>,
        limits: Limits,
        may_sleep: bool,
    ) -> Result<(), Status> {
        for p in pieces(pos, chunk.len()) {
            {
                let pages = self.pages.lock();
                if let Some(page) = pages.get(p.index) {
                    chunk.write_page(p.off, page, p.page_off, p.len)?;
                    continue;
                }
            }
            let new = self.alloc(limits, may_sleep)?;
            let mut pages = self.pages.lock();
            if let Some(page) = pages.get(p.index) {
                // Another command allocated it meanwhile: use theirs.
                chunk.write_page(p.off, page, p.page_off, p.len)?;
                drop(pages);
                self.release(new);
                continue;
            }
            chunk.write_page(p.off, new.as_ref(), p.page_off, p.len)?;
            // No sleeping allocation under the lock: a store that dropped it
            // could replace a page another command inserted meanwhile.
            if let Err(e) = pages.store(p.index, new, GFP_NOWAIT) {
                drop(pages);
                self.release(e.value);
                return Err(SC_INTERNAL);
            }
        }
        Ok(())
    }

    /// Deallocates the namespace bytes `[pos, pos + len)`: whole pages are
    /// freed, the covered part of partial pages is zeroed.
    pub(crate) fn discard(&self, pos: u64, len: u64) -> Result<(), Status> {
        let mut done = 0u64;
        while done < len {
            // Bounded steps, so that the lock is not held across a huge range.
            let step = (len - done).min(1 << 20) as usize;
            for p in pieces(pos + done, step) {
                let mut pages = self.pages.lock();
                if p.page_off == 0 && p.len == PAGE_SIZE {
                    if let Some(page) = pages.remove(p.index) {
                        drop(pages);
                        self.release(page);
                    }
                } else if let Some(page) = pages.get(p.index) {
                    page.zero(p.page_off, p.len)?;
                }
            }
            done += step as u64;
        }
        Ok(())
    }

    fn alloc(&self, limits: Limits, may_sleep: bool) -> Result<StorePage, Status> {
        let before = self.used.fetch_add(1, Ordering::Relaxed);
        if limits.max_pages != 0 && before >= limits.max_pages {
            self.used.fetch_sub(1, Ordering::Relaxed);
            return Err(SC_CAP_EXCEEDED | SC_DNR);
        }
        StorePage::alloc(limits.nid, may_sleep).map_err(|_| {
            self.used.fetch_sub(1, Ordering::Relaxed);
            SC_INTERNAL
        })
    }

    fn release(&self, page: StorePage) {
        drop(page);
        self.used.fetch_sub(1, Ordering::Relaxed);
    }
}

#[kunit_tests(nvmet_mem_store)]
mod tests {
    use super::*;

    fn collect(pos: u64, len: usize) -> KVec<Piece> {
        let mut v = KVec::new();
        for p in pieces(pos, len) {
            v.push(p, GFP_KERNEL).unwrap();
        }
        v
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
}
