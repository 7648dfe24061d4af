// SPDX-License-Identifier: GPL-2.0

//! A cursor over an I/O command's data buffer (its scatterlist).
//!
//! Bytes move between the buffer and the store only through the C copies
//! in `nvmet_mem_glue.c` (see [`super::StorePage`], [`super::PeekedPage`]
//! and the methods below);
//! no Rust reference to the buffer is ever formed, since the host may
//! change it while a command runs (nvme-loop hands over the host's own
//! pages).

use core::marker::PhantomData;
use core::ptr;
use kernel::bindings;
use kernel::prelude::*;
#[cfg(CONFIG_KUNIT = "y")]
use kernel::types::Opaque;

extern "C" {
    fn nvmet_mem_sg_zero(len: usize, sgp: *mut *mut bindings::scatterlist, offp: *mut u32)
        -> c_int;
    fn nvmet_mem_page_cmp_sg(
        page: *mut super::page::RawPage,
        off: usize,
        len: usize,
        sgp: *mut *mut bindings::scatterlist,
        offp: *mut u32,
    ) -> c_int;
}

/// A position in a command's data buffer; copies to and from it advance it.
///
/// # Invariants
///
/// `sg` is NULL or an entry of a scatterlist that stays valid for `'a`
/// (a command's, not completed: the cursor borrows the command's handle;
/// or a test buffer's, which the cursor borrows), and `off`
/// is an offset into that entry. The C copies only follow `sg_next` from
/// there and stop at the list's end.
pub(crate) struct SgCursor<'a> {
    pub(super) sg: *mut bindings::scatterlist,
    pub(super) off: u32,
    _req: PhantomData<&'a ()>,
}

impl SgCursor<'_> {
    /// A cursor at the start of the scatterlist `sg` (NULL if none).
    ///
    /// # Safety
    ///
    /// `sg` is NULL or the first entry of a terminated scatterlist (a
    /// command's, or a test's buffer) whose entries and memory stay
    /// allocated, and the command not completed, for the cursor's lifetime.
    pub(super) unsafe fn new(sg: *mut bindings::scatterlist) -> Self {
        // INVARIANT: the caller's guarantee; offset 0 of the first entry.
        Self {
            sg,
            off: 0,
            _req: PhantomData,
        }
    }

    /// Fills the next `len` bytes with zeroes.
    pub(crate) fn zero(&mut self, len: usize) -> Result {
        // SAFETY: the cursor's fields are valid (type invariant); the C side
        // writes only within the scatterlist and updates the two fields.
        to_result(unsafe { nvmet_mem_sg_zero(len, &mut self.sg, &mut self.off) })
    }

    /// Whether the next `len` bytes are all zero; the cursor moves past
    /// them only if they are.
    pub(crate) fn is_zero(&mut self, len: usize) -> Result<bool> {
        // SAFETY: as in `zero`; a NULL page means "compare with zeroes", and
        // the buffer is only read (by memchr_inv, not as a Rust slice).
        let ret =
            unsafe { nvmet_mem_page_cmp_sg(ptr::null_mut(), 0, len, &mut self.sg, &mut self.off) };
        to_result(ret).map(|()| ret == 0)
    }
}

/// A kernel buffer behind a scatterlist of one entry: a data buffer for
/// the store's tests, which have no command.
#[cfg(CONFIG_KUNIT = "y")]
pub(crate) struct TestBuffer {
    buf: KVec<u8>,
    sg: Opaque<bindings::scatterlist>,
}

#[cfg(CONFIG_KUNIT = "y")]
impl TestBuffer {
    /// `len` bytes of `byte`; `len` is not 0.
    pub(crate) fn new(byte: u8, len: usize) -> Result<Self> {
        if len == 0 {
            return Err(EINVAL);
        }
        let mut buf = KVec::with_capacity(len, GFP_KERNEL)?;
        buf.extend_with(len, byte, GFP_KERNEL)?;
        Ok(Self {
            buf,
            sg: Opaque::uninit(),
        })
    }

    /// The bytes, as the copies through the last cursor left them.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// A cursor at the start of the buffer.
    pub(crate) fn cursor(&mut self) -> Result<SgCursor<'_>> {
        let len = u32::try_from(self.buf.len())?;
        // SAFETY: `sg` is ours to initialise; the buffer is kmalloc'ed, so it
        // has a direct-map address, and its `len` bytes (not 0) are ours.
        unsafe { bindings::sg_init_one(self.sg.get(), self.buf.as_mut_ptr().cast(), len) };
        // SAFETY: one terminated entry over our buffer; the cursor borrows
        // `self` mutably, so both stay put and unread from Rust while it
        // lives.
        Ok(unsafe { SgCursor::new(self.sg.get()) })
    }
}

/// 0 and 1 (the compare results) are success; a negative errno is not.
pub(super) fn to_result(ret: c_int) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}
