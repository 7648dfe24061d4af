// SPDX-License-Identifier: GPL-2.0

//! A cursor over an I/O command's data buffer (its scatterlist).
//!
//! The cursor walks the buffer with the kernel crate's [`SgMiter`], one
//! mapped page at a time, and moves bytes only with byte-wise atomic
//! accesses ([`SgChunk`]'s and [`kernel::page::Page`]'s): no Rust
//! reference to the buffer is ever formed, since the host may change it
//! while a command runs (nvme-loop hands over the host's own pages).

use kernel::prelude::*;
use kernel::scatterlist::{SgChunk, SgMiter};
#[cfg(CONFIG_KUNIT = "y")]
use kernel::{bindings, types::Opaque};

pub(crate) use kernel::scatterlist::MiterDirection as Direction;

/// A position in a command's data buffer; copies to and from it advance it.
///
/// # Invariants
///
/// `left` is at most the number of bytes that `miter` will still hand out.
pub(crate) struct SgCursor<'a> {
    miter: SgMiter<'a>,
    left: usize,
}

/// What a chunk operation did with the bytes it was given.
pub(super) enum Step {
    /// Used them all: go on after them.
    Done,
    /// Found what it looked for (a difference): stop here.
    Stop,
}

/// Runs `op` on the next `len` bytes of `miter`, chunk by chunk: `op(chunk,
/// done, n)` gets the first `n` bytes of the chunk, the `done` bytes before
/// them having gone to the calls before. `Ok(false)` if `op` stopped early.
fn walk(
    miter: &mut SgMiter<'_>,
    len: usize,
    op: &mut impl FnMut(&mut SgChunk<'_>, usize, usize) -> Result<Step>,
) -> Result<bool> {
    let mut done = 0;
    while done < len {
        let (step, n) = miter
            .with_next(|chunk| {
                let n = chunk.len().min(len - done);
                op(chunk, done, n).and_then(|s| chunk.consume(n).map(|()| (s, n)))
            })
            .ok_or(EINVAL)??;
        done += n;
        if let Step::Stop = step {
            return Ok(false);
        }
    }
    Ok(true)
}

impl<'a> SgCursor<'a> {
    /// A cursor at the start of `miter`, which holds at least `len` bytes.
    ///
    /// # Safety
    ///
    /// `miter` will hand out at least `len` bytes.
    pub(super) unsafe fn new(miter: SgMiter<'a>, len: usize) -> Self {
        // INVARIANT: the caller's guarantee.
        Self { miter, left: len }
    }

    /// Whether the buffer holds `len` more bytes.
    pub(super) fn has(&self, len: usize) -> bool {
        len <= self.left
    }

    /// Runs `op` on the next `len` bytes, chunk by chunk: `op(chunk, done,
    /// n)` gets the first `n` bytes of the chunk, the `done` bytes before
    /// them having gone to the calls before. Fails with `EINVAL`, having
    /// done nothing, if the buffer holds fewer than `len` bytes. Returns
    /// `false` if `op` stopped early. After `false` or an error, the
    /// cursor's position is unspecified, and it holds nothing more.
    pub(super) fn for_each(
        &mut self,
        len: usize,
        mut op: impl FnMut(&mut SgChunk<'_>, usize, usize) -> Result<Step>,
    ) -> Result<bool> {
        if !self.has(len) {
            return Err(EINVAL);
        }
        let ret = walk(&mut self.miter, len, &mut op);
        // INVARIANT: the walk handed out `len` bytes, or an unknown part
        // of them: then say that nothing is left.
        self.left = match ret {
            Ok(true) => self.left - len,
            _ => 0,
        };
        ret
    }

    /// As [`Self::for_each`], then `keep()`: if it returns `false`, the
    /// cursor goes back to where it was, and `None` is returned (what `op`
    /// wrote to the buffer stays written). An error or an early stop is
    /// kept.
    pub(super) fn for_each_or_back(
        &mut self,
        len: usize,
        mut op: impl FnMut(&mut SgChunk<'_>, usize, usize) -> Result<Step>,
        keep: impl FnOnce() -> bool,
    ) -> Option<Result<bool>> {
        if !self.has(len) {
            return Some(Err(EINVAL));
        }
        let mut ret = Err(EINVAL);
        let kept = self.miter.advance_if(|m| {
            ret = walk(m, len, &mut op);
            !matches!(ret, Ok(true)) || keep()
        });
        if !kept {
            return None;
        }
        // INVARIANT: as in `for_each`.
        self.left = match ret {
            Ok(true) => self.left - len,
            _ => 0,
        };
        Some(ret)
    }

    /// Runs `op` on the next `len` bytes if the next chunk holds them all,
    /// and moves past them if it returns `Some(Ok)`. `None`, with the cursor
    /// where it was, if they span chunks (or the buffer holds fewer) or `op`
    /// returns `None`; what `op` wrote to the buffer stays written. After
    /// `Some(Err)`, as after an error of [`Self::for_each`], the cursor holds
    /// nothing more.
    #[inline]
    pub(super) fn in_one_chunk<R>(
        &mut self,
        len: usize,
        op: impl FnOnce(&mut SgChunk<'_>) -> Option<Result<R>>,
    ) -> Option<Result<R>> {
        if !self.has(len) {
            return None;
        }
        let ret = self.miter.with_next(|chunk| {
            // Nothing is used unless `op` says so.
            chunk.consume(0).ok()?;
            if chunk.len() < len {
                return None;
            }
            Some(op(chunk)?.and_then(|r| chunk.consume(len).map(|()| r)))
        })??;
        // INVARIANT: the miter handed out `len` of the bytes counted, or,
        // after an error, an unknown part of them.
        self.left = match ret {
            Ok(_) => self.left - len,
            Err(_) => 0,
        };
        Some(ret)
    }

    /// Moves past the next `len` bytes, leaving them as they are.
    pub(crate) fn skip(&mut self, len: usize) -> Result {
        self.for_each(len, |_, _, _| Ok(Step::Done)).map(|_| ())
    }

    /// Fills the next `len` bytes with zeroes.
    pub(crate) fn zero(&mut self, len: usize) -> Result {
        self.for_each(len, |chunk, _, n| {
            chunk.fill_zero(0, n).map(|()| Step::Done)
        })
        .map(|_| ())
    }

    /// Whether the next `len` bytes are all zero. The cursor's position is
    /// unspecified after a difference.
    pub(crate) fn is_zero(&mut self, len: usize) -> Result<bool> {
        self.for_each(len, |chunk, _, n| {
            Ok(if chunk.is_zero(0, n)? {
                Step::Done
            } else {
                Step::Stop
            })
        })
    }
}

/// A kernel buffer behind a scatterlist of one entry: a data buffer for
/// the store's tests, which have no command.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) struct TestBuffer {
    buf: KVec<u8>,
    skew: usize,
    sg: Opaque<bindings::scatterlist>,
}

#[cfg(CONFIG_KUNIT = "y")]
impl TestBuffer {
    /// `len` bytes of `byte`; `len` is not 0.
    pub(crate) fn new(byte: u8, len: usize) -> Result<Self> {
        Self::skewed(byte, len, 0)
    }

    /// `len` bytes of `byte` that start `skew` bytes into a page-aligned
    /// allocation, so that page-sized blocks straddle two of its pages;
    /// `len` is not 0.
    pub(crate) fn skewed(byte: u8, len: usize, skew: usize) -> Result<Self> {
        if len == 0 {
            return Err(EINVAL);
        }
        let total = len.checked_add(skew).ok_or(EINVAL)?;
        let mut buf = KVec::with_capacity(total, GFP_KERNEL)?;
        buf.extend_with(total, byte, GFP_KERNEL)?;
        Ok(Self {
            buf,
            skew,
            sg: Opaque::uninit(),
        })
    }

    /// The bytes, as the copies through the last cursor left them.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[self.skew..]
    }

    /// The bytes, to change before the next cursor.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.skew..]
    }

    /// A cursor at the start of the buffer, which copies move data through
    /// in `dir`, as a command's would.
    pub(crate) fn cursor(&mut self, dir: Direction) -> Result<SgCursor<'_>> {
        let len = self.buf.len() - self.skew;
        let len32 = u32::try_from(len)?;
        // SAFETY: `sg` is ours to initialise; the buffer is kmalloc'ed, so it
        // has a direct-map address, and its `len` bytes (not 0) after
        // `skew` are ours.
        unsafe {
            bindings::sg_init_one(
                self.sg.get(),
                self.buf.as_mut_ptr().add(self.skew).cast(),
                len32,
            )
        };
        // SAFETY: one terminated entry over our buffer; the cursor borrows
        // `self` mutably, so both stay put and unread from Rust while it
        // lives, and only the cursor accesses the buffer.
        let miter = unsafe { SgMiter::new(self.sg.get(), 1, dir) };
        // SAFETY: the entry holds the `len` bytes.
        Ok(unsafe { SgCursor::new(miter, len) })
    }
}
