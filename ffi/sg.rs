// SPDX-License-Identifier: GPL-2.0

//! A cursor over an I/O command's data buffer (its scatterlist).
//!
//! Bytes move between the buffer and the store only through the C copies
//! in `nvmet_mem_glue.c` (see [`super::StorePage`] and the methods below);
//! no Rust reference to the buffer is ever formed, since the host may
//! change it while a command runs (nvme-loop hands over the host's own
//! pages).

use core::marker::PhantomData;
use core::ptr;
use kernel::bindings;
use kernel::prelude::*;

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
/// `sg` is NULL or an entry of the scatterlist of a command that is not
/// completed for `'a` (the cursor borrows the command's handle), and `off`
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
    /// `sg` is NULL or the first entry of a command's scatterlist, which
    /// stays allocated and is not completed for the cursor's lifetime.
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

/// 0 and 1 (the compare results) are success; a negative errno is not.
pub(super) fn to_result(ret: c_int) -> Result {
    if ret < 0 {
        Err(Error::from_errno(ret))
    } else {
        Ok(())
    }
}
