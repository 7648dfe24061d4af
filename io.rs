// SPDX-License-Identifier: GPL-2.0

//! The command path (safe Rust): parse the NVM commands that nvmet hands
//! to the backend and execute them, one function per opcode.
//!
//! Read, Write and Compare walk the command's data buffer and copy to or
//! from the page store; Write Zeroes and Dataset Management (deallocate)
//! free or zero pages; Flush and Verify have nothing to do in RAM but check
//! their range. In no-data mode Write checks its range and stores nothing,
//! and Read returns zeroes, like null_blk with memory_backed=0: over tcp
//! and rdma the data buffer is the target's, and what it held before must
//! not reach the host (on debug kernels a test hook can skip that zeroing,
//! see `NODATA_UNZEROED`). Every other opcode is Invalid Opcode.
//!
//! Every execute function honours nowait (patch 0009): nvme-loop calls it
//! from its submission context, where it must not sleep. Read, Compare,
//! Verify, Flush and a Write to allocated pages never sleep and complete
//! there; a Write that needs a page, Write Zeroes and Dataset Management
//! (which may visit many pages) hand themselves to nvmet's workqueue and
//! run again from there. Other transports call execute in process context,
//! and so does nvme-loop for an object whose `nowait` is off (see [`Via`]).

use crate::backend::{Binding, Stat};
use crate::glue::{Direction, Request};
use crate::inject::Fire;
use crate::nvme::*;
use crate::store::WriteError;
use kernel::prelude::*;

/// Test hook, on debug kernels only (`CONFIG_FAULT_INJECTION_DEBUG_FS`):
/// while set, a no-data Read leaves its data buffer as the transport
/// handed it over instead of zeroing it, which over tcp and rdma sends the
/// host whatever the target's buffer held before. `mem_nodata_leak` sets
/// it to show that its check sees such a leak. Off by default; only root
/// can set it, through configfs (`debug_nodata_unzeroed`), and a kernel
/// without the option has neither the flag nor the attribute.
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
pub(crate) static NODATA_UNZEROED: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Whether a no-data Read skips zeroing its buffer (see
/// [`NODATA_UNZEROED`]).
#[cfg(CONFIG_FAULT_INJECTION_DEBUG_FS)]
fn nodata_unzeroed() -> bool {
    NODATA_UNZEROED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Whether a no-data Read skips zeroing its buffer: never, without the
/// debug kernel's test hook.
#[cfg(not(CONFIG_FAULT_INJECTION_DEBUG_FS))]
fn nodata_unzeroed() -> bool {
    false
}

/// An I/O command on a namespace bound to a memory object.
pub(crate) type Req<'a> = Request<'a, KBox<Binding>>;

/// Where a parsed command's `execute` may run: what [`parse`] decides
/// along with the command.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// It honours nowait: nvme-loop calls it from its submission context.
    Nowait,
    /// Every transport calls it where it may sleep (nvme-loop: from
    /// nvmet's workqueue): the object's `nowait` is off.
    Workqueue,
    /// As [`Via::Workqueue`], the injection rules looking at it first (any
    /// is enabled: see [`injected`]).
    Rules,
}

/// nvmet's `parse_io_cmd`: the command to execute and where, or Invalid
/// Opcode. No rule fires here: nvmet may still fail the command
/// after parsing it (a reservation conflict, a queue being deleted), and a
/// rule counts only what the backend acts on.
pub(crate) fn parse(req: &Req<'_>) -> Result<(Command, Via), Status> {
    let cmd = match req.opcode() {
        OP_READ => Command::Read,
        OP_WRITE => Command::Write,
        OP_COMPARE => Command::Compare,
        OP_WRITE_ZEROES => Command::WriteZeroes,
        OP_DSM => Command::Dsm,
        OP_VERIFY => Command::Verify,
        OP_FLUSH => Command::Flush,
        _ => {
            let status = req.invalid_opcode();
            if let Some(b) = req.data() {
                b.object().count(None, status, 0);
            }
            return Err(status);
        }
    };
    let via = match req.data() {
        Some(b) if b.object().rules.any() => Via::Rules,
        Some(b) if !b.nowait => Via::Workqueue,
        _ => Via::Nowait,
    };
    Ok((cmd, via))
}

/// Whether an injection rule fires for `req`, executed as `cmd`: `Ok(true)`
/// to hold it (see [`crate::hold`]), or the status to fail it with,
/// with its error location set, so that nothing of it is executed. Called
/// once per command, from its `execute` (see [`parse`]).
pub(crate) fn injected(req: &Req<'_>, cmd: Command) -> Result<bool, Status> {
    let Some(b) = req.data().filter(|b| b.object().rules.any()) else {
        return Ok(false);
    };
    let range = match cmd {
        Command::Flush | Command::Dsm => None,
        // Out of range: not injected; execute reports LBA Out of Range.
        _ => match lba_range(req.slba(), req.nlb().into(), b.nblocks(), b.shift) {
            Some(_) => Some((req.slba(), u64::from(req.nlb()))),
            None => return Ok(false),
        },
    };
    let obj = b.object();
    let (status, lba) = match obj.rules.check(cmd, range) {
        None => return Ok(false),
        Some(Fire::Hold) => return Ok(true),
        Some(Fire::Fail(status, lba)) => (status, lba),
    };
    match range {
        Some(_) => req.set_error(LOC_CDW10, lba),
        None => req.set_error(LOC_OPCODE, 0),
    }
    obj.stat(Stat::Injected, 1);
    obj.count(Some(cmd), status, 0);
    Err(status)
}

/// Executes `req` as `cmd`: what the `execute` callback that parsing
/// installs for `cmd` does.
pub(crate) fn execute(req: Req<'_>, cmd: Command) {
    match cmd {
        Command::Read => execute_read(req),
        Command::Write => execute_write(req),
        Command::Compare => execute_compare(req),
        Command::WriteZeroes => execute_write_zeroes(req),
        Command::Dsm => execute_dsm(req),
        Command::Verify => execute_verify(req),
        Command::Flush => execute_flush(req),
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

/// Records where `status` happened for the Error Information log, as
/// io-cmd-bdev.c does: `lba` is the first LBA the error concerns, and the
/// command field is SLBA (or Number of Ranges) for LBA Out of Range, NLB
/// for Capacity Exceeded and the opcode for Internal Error. Returns
/// `status`.
fn located(req: &Req<'_>, status: Status, lba: u64) -> Status {
    let loc = match status & SC_MASK {
        SC_LBA_RANGE => LOC_CDW10,
        SC_CAP_EXCEEDED => LOC_CDW12,
        SC_INTERNAL => LOC_OPCODE,
        _ => return status,
    };
    req.set_error(loc, lba);
    status
}

/// The command's byte range, or LBA Out of Range with the error located.
fn range(req: &Req<'_>, b: &Binding) -> Result<(u64, u64), Status> {
    let slba = req.slba();
    lba_range(slba, req.nlb().into(), b.nblocks(), b.shift)
        .ok_or_else(|| located(req, SC_LBA_RANGE | SC_DNR, slba))
}

/// Checks that the host transfers the command's NLB worth of data. `None`
/// if the command was completed (no binding, or a length mismatch, which
/// nvmet completes itself).
fn with_block_data(req: Req<'_>) -> Option<Req<'_>> {
    let len = match req.data() {
        Some(b) => (req.nlb() as usize) << b.shift,
        None => {
            req.complete(SC_INTERNAL | SC_DNR);
            return None;
        }
    };
    req.check_transfer_len(len)
}

/// Checks that the command transfers no data, as [`with_block_data`].
fn without_data(req: Req<'_>) -> Option<Req<'_>> {
    if req.data().is_none() {
        req.complete(SC_INTERNAL | SC_DNR);
        return None;
    }
    req.check_transfer_len(0)
}

fn status(res: Result<(), Status>) -> Status {
    res.err().unwrap_or(SC_SUCCESS)
}

/// Completes `req` as `cmd` with the outcome `res`, counting it in the
/// object's statistics; `bytes` is what a successful Read or Write moved.
/// With latency injection on, the completion waits for a timer; the
/// command is counted before, as the namespace may go once it completes.
fn finish(req: Req<'_>, cmd: Command, res: Result<(), Status>, bytes: u64) {
    let status = status(res);
    let delay = req.data().map_or(0, |b| {
        let obj = b.object();
        obj.count(Some(cmd), status, bytes);
        let delay = obj.delay_ns();
        if delay != 0 {
            obj.stat(Stat::Delayed, 1);
        }
        delay
    });
    if delay == 0 {
        return req.complete(status);
    }
    if let Err(req) = req.complete_after(status, delay) {
        if let Some(b) = req.data() {
            b.object().stat(Stat::DelayFailed, 1);
        }
        req.complete(status);
    }
}

/// The data length of a Read or Write, for the statistics.
fn data_len(req: &Req<'_>) -> u64 {
    req.data().map_or(0, |b| u64::from(req.nlb()) << b.shift)
}

pub(crate) fn execute_read(req: Req<'_>) {
    let Some(req) = with_block_data(req) else {
        return;
    };
    let res = req.data().map_or(Err(SC_INTERNAL | SC_DNR), |b| {
        let (start, len) = range(&req, b)?;
        let mut to = req.data_cursor(Direction::ToSg);
        if b.nodata {
            if nodata_unzeroed() {
                // The test hook: send the buffer as it is.
                return Ok(());
            }
            // The buffer may be the target's own (tcp, rdma): never send
            // what it held before.
            return to
                .zero(len as usize)
                .map_err(|_| located(&req, SC_INTERNAL | SC_DNR, req.slba()));
        }
        b.store()
            .read(start, len as usize, &mut to)
            .map_err(|s| located(&req, s, req.slba()))
    });
    let len = data_len(&req);
    finish(req, Command::Read, res, len);
}

pub(crate) fn execute_write(req: Req<'_>) {
    let Some(req) = with_block_data(req) else {
        return;
    };
    let may_sleep = !req.nowait();
    let res = req.data().map_or(Err(Some(SC_INTERNAL | SC_DNR)), |b| {
        let (start, len) = range(&req, b).map_err(Some)?;
        if b.nodata {
            return Ok(());
        }
        let mut from = req.data_cursor(Direction::FromSg);
        match b
            .store()
            .write(start, len as usize, &mut from, b.limits, may_sleep)
        {
            Ok(()) => Ok(()),
            Err(WriteError::WouldSleep) => Err(None),
            // `pos` is the first byte not written: report its LBA.
            Err(WriteError::Failed { status, pos }) => {
                Err(Some(located(&req, status, pos >> b.shift)))
            }
        }
    });
    let len = data_len(&req);
    match res {
        Ok(()) => finish(req, Command::Write, Ok(()), len),
        Err(Some(s)) => finish(req, Command::Write, Err(s), 0),
        // Only with nowait: run it again where allocating may sleep.
        Err(None) if !may_sleep => req.defer(),
        Err(None) => finish(req, Command::Write, Err(SC_INTERNAL | SC_DNR), 0),
    }
}

pub(crate) fn execute_compare(req: Req<'_>) {
    let Some(req) = with_block_data(req) else {
        return;
    };
    let res = req.data().map_or(Err(SC_INTERNAL | SC_DNR), |b| {
        let (start, len) = range(&req, b)?;
        match b
            .store()
            .equals(start, len as usize, &mut req.data_cursor(Direction::FromSg))
            .map_err(|s| located(&req, s, req.slba()))?
        {
            true => Ok(()),
            false => Err(SC_COMPARE_FAILED | SC_DNR),
        }
    });
    finish(req, Command::Compare, res, 0);
}

pub(crate) fn execute_write_zeroes(req: Req<'_>) {
    if req.nowait() {
        return req.defer();
    }
    let Some(req) = without_data(req) else {
        return;
    };
    let res = req.data().map_or(Err(SC_INTERNAL | SC_DNR), |b| {
        let (start, len) = range(&req, b)?;
        b.store().discard(start, len);
        Ok(())
    });
    finish(req, Command::WriteZeroes, res, 0);
}

pub(crate) fn execute_dsm(req: Req<'_>) {
    if req.nowait() {
        return req.defer();
    }
    let len = req.dsm_len();
    let Some(req) = req.check_data_len_lte(len) else {
        return;
    };
    let res = req.data().map_or(Err(SC_INTERNAL | SC_DNR), |b| {
        if req.dsm_attributes() & DSM_AD == 0 {
            // Integral read/write hints: nothing to do in RAM.
            return Ok(());
        }
        for i in 0..req.dsm_nr() {
            let (slba, nlb) = req.dsm_range(i)?;
            let Some((start, len)) = lba_range(slba, nlb.into(), b.nblocks(), b.shift) else {
                return Err(located(&req, SC_LBA_RANGE | SC_DNR, slba));
            };
            b.store().discard(start, len);
        }
        Ok(())
    });
    finish(req, Command::Dsm, res, 0);
}

pub(crate) fn execute_verify(req: Req<'_>) {
    let Some(req) = without_data(req) else {
        return;
    };
    let res = req
        .data()
        .map_or(Err(SC_INTERNAL | SC_DNR), |b| range(&req, b).map(|_| ()));
    finish(req, Command::Verify, res, 0);
}

pub(crate) fn execute_flush(req: Req<'_>) {
    // A completed write is in the store already.
    let Some(req) = without_data(req) else {
        return;
    };
    finish(req, Command::Flush, Ok(()), 0);
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
