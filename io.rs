// SPDX-License-Identifier: GPL-2.0

//! The command path (safe Rust): parse and execute the NVM commands that
//! nvmet hands to the backend.
//!
//! Read, Write and Compare walk the command's scatterlist and copy to or
//! from the page store; Write Zeroes and Dataset Management (deallocate)
//! free or zero pages; Flush and Verify have nothing to do in RAM but check
//! their range. In no-data mode Read and Write check their range and move
//! nothing (the data buffer is left as it is), like null_blk with
//! memory_backed=0. Every other opcode is Invalid Opcode. Each command completes
//! before `execute` returns: there is no bio, request or file on the way.

use crate::backend::Bound;
use crate::ffi::{Request, Status};
use kernel::prelude::*;

// NVM command opcodes (NVMe NVM Command Set specification).
const OP_FLUSH: u8 = 0x00;
const OP_WRITE: u8 = 0x01;
const OP_READ: u8 = 0x02;
const OP_COMPARE: u8 = 0x05;
const OP_WRITE_ZEROES: u8 = 0x08;
const OP_DSM: u8 = 0x09;
const OP_VERIFY: u8 = 0x0c;

/// Dataset Management attribute: deallocate.
const DSM_AD: u32 = 1 << 2;

// Status codes (NVMe base specification), as in include/linux/nvme.h.
pub(crate) const SC_SUCCESS: Status = 0x0;
pub(crate) const SC_INTERNAL: Status = 0x6;
pub(crate) const SC_LBA_RANGE: Status = 0x80;
pub(crate) const SC_CAP_EXCEEDED: Status = 0x81;
pub(crate) const SC_COMPARE_FAILED: Status = 0x285;
pub(crate) const SC_DNR: Status = 0x4000;

/// nvmet's `parse_io_cmd`: accept the commands we serve.
///
/// Commands whose execution never sleeps are marked inline: Read, Compare,
/// Verify and Flush copy or check under a spinlock at most, and so does a
/// Write in no-data mode or to pages that are all allocated already (should
/// a deallocation free one before it executes, it allocates without
/// sleeping). Other Writes may allocate pages and Write Zeroes and Dataset
/// Management may free many, so those keep the transport's process context.
pub(crate) fn parse(req: &Request<'_>) -> Status {
    let inline = match req.opcode() {
        OP_READ | OP_COMPARE | OP_FLUSH | OP_VERIFY => true,
        OP_WRITE => req
            .bound()
            .is_some_and(|b| b.nodata || write_allocated(req, b)),
        OP_WRITE_ZEROES | OP_DSM => false,
        _ => return req.invalid_opcode(),
    };
    req.set_execute(inline);
    SC_SUCCESS
}

/// Whether a Write lies in range and every page under it is allocated.
fn write_allocated(req: &Request<'_>, bound: &Bound) -> bool {
    match lba_range(req.slba(), req.nlb().into(), bound.nblocks, bound.shift) {
        Some((start, len)) => bound.store().all_present(start, len as usize),
        None => false,
    }
}

/// Byte range `[start, start + len)` of LBAs `[slba, slba + nlb)`, or `None`
/// if it does not lie within a namespace of `nblocks` blocks of
/// `1 << shift` bytes.
pub(crate) fn lba_range(slba: u64, nlb: u64, nblocks: u64, shift: u32) -> Option<(u64, u64)> {
    let end = slba.checked_add(nlb)?;
    if end > nblocks {
        return None;
    }
    Some((slba << shift, nlb << shift))
}

/// The `execute` callback: run the command and complete it.
pub(crate) fn execute(req: Request<'_>) {
    let Some(bound) = req.bound() else {
        return req.complete(SC_INTERNAL | SC_DNR);
    };
    let op = req.opcode();
    let req = match op {
        OP_READ | OP_WRITE | OP_COMPARE => {
            let len = (req.nlb() as usize) << bound.shift;
            req.check_transfer_len(len)
        }
        OP_DSM => {
            let len = req.dsm_len();
            req.check_data_len_lte(len)
        }
        _ => req.check_transfer_len(0),
    };
    // On a length mismatch nvmet has completed the command already.
    let Some(req) = req else { return };
    let status = match op {
        OP_READ => read(&req, bound),
        OP_WRITE => write(&req, bound),
        OP_COMPARE => compare(&req, bound),
        OP_WRITE_ZEROES => write_zeroes(&req, bound),
        OP_DSM => dsm(&req, bound),
        OP_VERIFY => range(&req, bound).map(|_| ()),
        _ => Ok(()), // Flush: a completed write is in the store already.
    };
    req.complete(status.err().unwrap_or(SC_SUCCESS));
}

/// The command's byte range, or LBA Out of Range with the error located.
fn range(req: &Request<'_>, bound: &Bound) -> Result<(u64, u64), Status> {
    let slba = req.slba();
    lba_range(slba, req.nlb().into(), bound.nblocks, bound.shift).ok_or_else(|| {
        req.set_error_slba(slba);
        SC_LBA_RANGE | SC_DNR
    })
}

/// Walks the data buffer over the command's range: `f(pos, chunk)` for each
/// mapped piece at namespace byte `pos`.
fn walk(
    req: &Request<'_>,
    bound: &Bound,
    to_sg: bool,
    mut f: impl FnMut(u64, &mut crate::ffi::SgChunk<'_>) -> Result<(), Status>,
) -> Result<(), Status> {
    let (start, len) = range(req, bound)?;
    let end = start + len;
    let mut pos = start;
    req.walk_sg(to_sg, |chunk| {
        let n = chunk.len() as u64;
        if pos + n > end {
            return Err(SC_INTERNAL | SC_DNR);
        }
        f(pos, chunk)?;
        pos += n;
        Ok(())
    })?;
    if pos != end {
        return Err(SC_INTERNAL | SC_DNR);
    }
    Ok(())
}

fn read(req: &Request<'_>, bound: &Bound) -> Result<(), Status> {
    if bound.nodata {
        return range(req, bound).map(|_| ());
    }
    let store = bound.store();
    walk(req, bound, true, |pos, chunk| store.read(pos, chunk))
}

fn write(req: &Request<'_>, bound: &Bound) -> Result<(), Status> {
    if bound.nodata {
        return range(req, bound).map(|_| ());
    }
    let store = bound.store();
    let may_sleep = !req.is_inline();
    walk(req, bound, false, |pos, chunk| {
        store
            .write(pos, chunk, bound.limits, may_sleep)
            .inspect_err(|_| {
                req.set_error_slba(pos >> bound.shift);
            })
    })
}

fn compare(req: &Request<'_>, bound: &Bound) -> Result<(), Status> {
    let store = bound.store();
    walk(req, bound, false, |pos, chunk| {
        if store.equals(pos, chunk)? {
            Ok(())
        } else {
            Err(SC_COMPARE_FAILED | SC_DNR)
        }
    })
}

fn write_zeroes(req: &Request<'_>, bound: &Bound) -> Result<(), Status> {
    let (start, len) = range(req, bound)?;
    bound.store().discard(start, len)
}

fn dsm(req: &Request<'_>, bound: &Bound) -> Result<(), Status> {
    if req.dsm_attributes() & DSM_AD == 0 {
        // Integral read/write hints: nothing to do in RAM.
        return Ok(());
    }
    for i in 0..req.dsm_nr() {
        let (slba, nlb) = req.dsm_range(i)?;
        let Some((start, len)) = lba_range(slba, nlb.into(), bound.nblocks, bound.shift) else {
            req.set_error_slba(slba);
            return Err(SC_LBA_RANGE | SC_DNR);
        };
        bound.store().discard(start, len)?;
    }
    Ok(())
}

#[kunit_tests(nvmet_mem_io)]
mod tests {
    use super::*;

    #[test]
    fn lba_range_math() {
        // 512-byte blocks, 128 blocks.
        assert_eq!(lba_range(0, 1, 128, 9), Some((0, 512)));
        assert_eq!(lba_range(127, 1, 128, 9), Some((127 * 512, 512)));
        assert_eq!(lba_range(0, 128, 128, 9), Some((0, 65536)));
        // 4096-byte blocks.
        assert_eq!(lba_range(3, 2, 16, 12), Some((3 * 4096, 8192)));
    }

    #[test]
    fn lba_range_rejects() {
        assert_eq!(lba_range(128, 1, 128, 9), None);
        assert_eq!(lba_range(127, 2, 128, 9), None);
        assert_eq!(lba_range(u64::MAX, 1, 128, 9), None);
        assert_eq!(lba_range(u64::MAX - 1, 65536, u64::MAX, 9), None);
    }
}
