// SPDX-License-Identifier: GPL-2.0

//! The command vocabulary at the bottom of the crate: NVMe constants
//! (NVMe Base and NVM Command Set specifications, as in
//! include/linux/nvme.h), the status type and the commands this backend
//! serves. It imports nothing from the crate.

/// An NVMe status code as nvmet takes it (status field, DNR bit included).
pub(crate) type Status = u16;

/// The commands this backend serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Command {
    Read,
    Write,
    Compare,
    WriteZeroes,
    Dsm,
    Verify,
    Flush,
}

/// The number of [`Command`]s.
pub(crate) const NR_COMMANDS: usize = Command::Flush as usize + 1;

// NVM command opcodes.
pub(crate) const OP_FLUSH: u8 = 0x00;
pub(crate) const OP_WRITE: u8 = 0x01;
pub(crate) const OP_READ: u8 = 0x02;
pub(crate) const OP_COMPARE: u8 = 0x05;
pub(crate) const OP_WRITE_ZEROES: u8 = 0x08;
pub(crate) const OP_DSM: u8 = 0x09;
pub(crate) const OP_VERIFY: u8 = 0x0c;

/// Dataset Management attribute: deallocate.
pub(crate) const DSM_AD: u32 = 1 << 2;

// Status codes: generic, then command specific (type 1) and media (type 2).
pub(crate) const SC_SUCCESS: Status = 0x0;
pub(crate) const SC_INTERNAL: Status = 0x6;
pub(crate) const SC_ABORT_REQ: Status = 0x7;
pub(crate) const SC_LBA_RANGE: Status = 0x80;
pub(crate) const SC_CAP_EXCEEDED: Status = 0x81;
pub(crate) const SC_COMPARE_FAILED: Status = 0x285;
/// Do Not Retry.
pub(crate) const SC_DNR: Status = 0x4000;
/// Status Code Type and Status Code, without the DNR and More bits.
pub(crate) const SC_MASK: Status = 0x7ff;

// Parameter Error Location of the Error Information log: the byte offset of
// a field in the submission queue entry.
pub(crate) const LOC_OPCODE: u16 = 0;
/// Command Dword 10: SLBA of Read, Write, Compare, Write Zeroes, Verify;
/// Number of Ranges of Dataset Management.
pub(crate) const LOC_CDW10: u16 = 40;
/// Command Dword 12: NLB.
pub(crate) const LOC_CDW12: u16 = 48;
