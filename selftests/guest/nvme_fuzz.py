#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Protocol fuzz of a mem namespace: random NVMe I/O commands through the
Linux passthrough ioctl (NVME_IOCTL_IO_CMD on the namespace's block
device), each checked against a model of the namespace.

The sequence depends only on the seed (printed), so a failure repeats with
the same seed and count. Before fuzzing, the whole namespace is filled with
a seeded random pattern. The first half is protected: commands that may
change data (Write, Write Zeroes, Dataset Management, and every opcode that
is not Read, Compare, Verify or Flush) get LBAs in the second half (the fuzz
region), at or beyond the end, or near 2^64 so that SLBA + NLB wraps past
zero into the protected half, which the target must reject.

Three phases:
  1. half of COUNT random commands, and interleaved with them one command
     of each opcode 0x00-0xff: random flags (the host rejects any, the
     fused bits included), data lengths that do not match NLB (shorter,
     longer, zero, odd), huge NLB, LBAs in range, at and beyond the end,
     near 2^64; Dataset Management with 1..256 ranges of random content;
     Write Zeroes, Verify, Compare with random or model buffers;
  2. for 4 x KATO seconds only commands that fail in nvmet_req_init()
     (opcodes the target does not serve): the host counts their
     completions as traffic (TBKAS) and sends no Keep Alive, so the target
     must count them too, or it declares the keep-alive timer expired;
  3. the other half of COUNT random commands.

Every completion is checked against the statuses the model allows (Read,
Write, Compare, Verify beyond the end: LBA Out of Range; a data length
that does not match NLB: Data SGL Length Invalid; an opcode the backend
does not serve: Invalid Opcode; ...); a successful Read must return the
model's data. At the end the whole namespace is read back: the protected
half byte for byte, the fuzz region wherever the model is sure.

One deviation is tolerated and counted: Dataset Management's NR is bits
07:00 of cdw10 (31:08 are reserved), as nvmet-mem reads it, but nvmet's
bdev and file backends read the whole dword (nvmet_dsm_len()), so with
them a command with reserved bits set may complete as if NR were that
large (usually Data SGL Length Invalid); either reading is accepted, and
the summary notes how many completed the second way.

A negative errno is acceptable only where the host driver rejects the
command locally before sending it (non-zero flags, another NSID): those
are counted apart. Any other errno (EINTR after a timeout, EIO, ENODEV...)
or a host-made status (Host Path Error, Host Aborted: the controller was
reset or lost) is a failure.

usage: nvme_fuzz.py DEV COUNT SEED KATO CTRL_SYSFS_DIR
  CTRL_SYSFS_DIR is /sys/class/nvme/nvmeX of DEV's controller; KATO its
  keep-alive timeout in seconds, 0 for no keep-alive phase.
Prints one summary line; exit status 0 if everything was as expected.
"""
import ctypes
import errno
import fcntl
import mmap
import os
import random
import struct
import sys
import time

NVME_IOCTL_IO_CMD = 0xC0484E43  # _IOWR('N', 0x43, struct nvme_passthru_cmd)
# struct nvme_passthru_cmd: opcode, flags, rsvd1, nsid, cdw2, cdw3,
# metadata, addr, metadata_len, data_len, cdw10..cdw15, timeout_ms, result
PASSTHRU = struct.Struct("<BBHIIIQQII6III")
assert PASSTHRU.size == 72

OP_FLUSH, OP_WRITE, OP_READ, OP_COMPARE = 0x00, 0x01, 0x02, 0x05
OP_WRITE_ZEROES, OP_DSM, OP_VERIFY = 0x08, 0x09, 0x0C
SERVED = {OP_FLUSH, OP_WRITE, OP_READ, OP_COMPARE, OP_WRITE_ZEROES, OP_DSM, OP_VERIFY}
HARMLESS = {OP_FLUSH, OP_READ, OP_COMPARE, OP_VERIFY}  # never change data
DSM_AD = 1 << 2
UNKNOWN, EXACT, OR_ZERO = 0, 1, 2  # what the model knows of a block

DNR = 0x4000
MORE = 0x2000
SUCCESS = 0x0
INVALID_OPCODE = 0x1 | DNR
SGL_INVALID_DATA = 0xF | DNR
LBA_RANGE = 0x80 | DNR
COMPARE_FAILED = 0x285 | DNR
STATUS_NAMES = {
    0x0: "Success",
    0x1: "Invalid Opcode",
    0x2: "Invalid Field",
    0x4: "Data Transfer Error",
    0x6: "Internal Error",
    0x7: "Abort Requested",
    0xB: "Invalid Namespace",
    0xF: "Data SGL Length Invalid",
    0x80: "LBA Out of Range",
    0x81: "Capacity Exceeded",
    0x285: "Compare Failure",
    0x370: "Host Path Error",
    0x371: "Host Aborted",
}
U64 = 1 << 64


def status_name(st):
    base = st & 0x7FF
    name = STATUS_NAMES.get(base, f"status 0x{base:03x}")
    return name + ("" if st & DNR or not base else " (no DNR)")


class Cmd:
    """One command, as the ioctl sends it."""

    def __init__(self, opcode):
        self.opcode = opcode
        self.flags = 0
        self.nsid = None  # the namespace's
        self.cdw = [0] * 16  # cdw2, cdw3, cdw10..cdw15 used
        self.data = b""  # the bytes sent; empty when the host receives
        self.data_len = 0
        self.buf_off = 0
        self.ranges = []  # DSM: (slba, nlb) as sent

    @property
    def slba(self):
        return self.cdw[10] | (self.cdw[11] << 32)

    @property
    def nlb(self):
        return (self.cdw[12] & 0xFFFF) + 1

    def describe(self):
        s = (f"opcode 0x{self.opcode:02x} flags 0x{self.flags:02x} "
             f"cdw10-15 {' '.join(f'{self.cdw[i]:08x}' for i in range(10, 16))} "
             f"data_len {self.data_len}")
        if self.opcode in SERVED - {OP_DSM, OP_FLUSH}:
            s += f" (slba {self.slba:#x} nlb {self.nlb})"
        if self.opcode == OP_DSM:
            s += f" ({len(self.ranges)} ranges sent, nr {(self.cdw[10] & 0xFF) + 1})"
        return s


class Fuzz:
    def __init__(self, dev, count, seed, kato, ctrl):
        self.dev, self.count, self.seed, self.kato, self.ctrl = dev, count, seed, kato, ctrl
        self.rnd = random.Random(seed)
        self.fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        name = os.path.basename(dev)
        self.bs = int(open(f"/sys/block/{name}/queue/logical_block_size").read())
        self.nblocks = os.lseek(self.fd, 0, os.SEEK_END) // self.bs
        self.nsid = int(open(f"/sys/block/{name}/nsid").read())
        hw = int(open(f"/sys/block/{name}/queue/max_hw_sectors_kb").read()) << 10
        self.maxlen = min(hw, 128 << 10)
        self.half = self.nblocks // 2  # [0, half): protected
        # the model: the namespace's bytes, and per block EXACT, OR_ZERO
        # (those bytes or zeroes: a failed Dataset Management may or may
        # not have deallocated it) or UNKNOWN
        self.model = bytearray()
        self.known = bytearray([EXACT]) * self.nblocks
        self.buf = mmap.mmap(-1, self.maxlen + 2 * mmap.PAGESIZE)
        self.buf_addr = ctypes.addressof(ctypes.c_char.from_buffer(self.buf))
        self.stats = {}  # status name -> count
        self.errnos = {}  # host-local errno name -> count
        self.opcodes = set()  # opcodes that reached the target
        self.sent = 0
        self.fails = []
        self.lost = None  # the controller's state once it is not live
        # Dataset Management whose status only nvmet's reading of NR (all
        # of cdw10, reserved bits included) explains
        self.dsm_nvmet_only = 0

    # ---- plumbing ----

    def fail(self, what):
        self.fails.append(what)
        print(f"# FAIL: {what}", flush=True)

    def stop(self):
        """After a failure: whether to stop sending (the controller is not
        live, or enough has been seen)."""
        state = self.ctrl_attr("state")
        if state != "live" and self.lost is None:
            self.lost = state
            print(f"# controller {os.path.basename(self.ctrl)} is {state} after command "
                  f"{self.sent}: stopping", flush=True)
        return self.lost is not None or len(self.fails) >= 20

    def ctrl_attr(self, attr):
        try:
            return open(os.path.join(self.ctrl, attr)).read().strip()
        except OSError as e:
            return f"<{e.strerror}>"

    def submit(self, c):
        """The ioctl's result: a status (>= 0) or -errno."""
        off = c.buf_off
        if c.data:
            self.buf[off:off + len(c.data)] = c.data
        elif c.data_len:  # to receive: a poison no block of the model has
            self.buf[off:off + c.data_len] = b"\xa5" * c.data_len
        arg = bytearray(PASSTHRU.pack(
            c.opcode, c.flags, 0, self.nsid if c.nsid is None else c.nsid,
            c.cdw[2], c.cdw[3], 0, self.buf_addr + off, 0, c.data_len,
            *c.cdw[10:16], 0, 0))
        self.sent += 1
        try:
            return fcntl.ioctl(self.fd, NVME_IOCTL_IO_CMD, arg, True)
        except OSError as e:
            return -e.errno

    def direct_io(self, write, lba, data=None, nblk=0):
        """O_DIRECT read or write of whole blocks through the page-aligned
        buffer, in chunks."""
        out = bytearray()
        step = max(self.maxlen // self.bs, 1)
        done = 0
        total = len(data) // self.bs if write else nblk
        view = memoryview(self.buf)
        while done < total:
            n = min(step, total - done)
            chunk = view[:n * self.bs]
            pos = (lba + done) * self.bs
            if write:
                chunk[:] = data[done * self.bs:(done + n) * self.bs]
                got = os.pwritev(self.fd, [chunk], pos)
            else:
                got = os.preadv(self.fd, [chunk], pos)
                out += chunk
            chunk.release()
            if got != n * self.bs:
                raise OSError(errno.EIO, f"short transfer at LBA {lba + done}")
            done += n
        view.release()
        return out

    # ---- random fields ----

    def pick_nlb(self):
        r = self.rnd.random()
        maxblk = max(self.maxlen // self.bs, 1)
        if r < 0.5:
            return self.rnd.randint(1, min(8, maxblk))
        if r < 0.75:
            return self.rnd.randint(1, maxblk)
        if r < 0.85:
            return 0x10000  # NLB field 0xffff
        return self.rnd.randint(1, 0x10000)

    def pick_slba(self, nlb, harmless):
        """An SLBA for nlb blocks; a command that may change data only gets
        the fuzz region, the end and beyond, or a range that wraps."""
        n, half, rnd = self.nblocks, self.half, self.rnd
        r = rnd.random()
        lo = 0 if harmless else half
        if r < 0.45:  # in range, if it fits
            return rnd.randint(lo, max(lo, n - nlb))
        if r < 0.55:  # the last blocks, or one past them
            return max(lo, n - nlb + rnd.randint(0, 1))
        if r < 0.65:  # straddles the end
            return max(lo, n - rnd.randint(1, nlb))
        if r < 0.75:  # at or beyond the end
            return n + rnd.choice([0, 0, 1, rnd.randint(2, 1 << 20)])
        if r < 0.82:  # anywhere in 64 bits, past the end
            return rnd.randint(n, U64 - 1)
        # near 2^64: SLBA + NLB wraps past zero into the protected half,
        # or ends exactly at 2^64
        k = rnd.randint(1, nlb)
        return U64 - k

    def pick_len(self, need):
        """A data length around `need` bytes: exact, shorter, longer, zero,
        odd or random; never above the host's maximum."""
        rnd, cap = self.rnd, self.maxlen
        r = rnd.random()
        if r < 0.6 and need <= cap:
            n = need
        elif r < 0.7:
            n = 0
        elif r < 0.8:
            n = need - rnd.choice([self.bs, 1, rnd.randint(1, max(need, 1))])
        elif r < 0.9:
            n = need + rnd.choice([self.bs, 4, rnd.randint(1, cap)])
        else:
            n = rnd.randint(1, cap)
        return max(0, min(n, cap))

    def pick_buf_off(self):
        r = self.rnd.random()
        if r < 0.8:
            return 0
        if r < 0.9:
            return self.rnd.randrange(self.bs, mmap.PAGESIZE, self.bs)
        return self.rnd.randint(1, mmap.PAGESIZE - 1)  # the host bounces it

    def pick_range(self, valid=False):
        """A DSM range (slba, nlb32): in the fuzz region, nlb 0, straddling
        the end, beyond it, wrapping, or huge; with valid, one of the first
        two kinds."""
        n, half, rnd = self.nblocks, self.half, self.rnd
        r = rnd.random() * (0.5 if valid else 1)
        if r < 0.4:
            s = rnd.randint(half, n - 1)
            return s, rnd.randint(1, min(n - s, 64))
        if r < 0.5:
            return rnd.choice([rnd.randint(half, n), n, U64 - 1]), 0
        if r < 0.6:
            s = rnd.randint(max(half, n - 64), n - 1)
            return s, n - s + rnd.randint(1, 64)
        if r < 0.7:
            return n + rnd.randint(0, 1 << 20), rnd.randint(1, 64)
        if r < 0.85:  # wraps past zero into [0, half)
            k = rnd.randint(1, 1 << 16)
            return U64 - k, k + rnd.randint(1, half)
        if r < 0.95:
            return rnd.randint(half, n - 1), rnd.randint(n, (1 << 32) - 1)
        return rnd.randint(n, U64 - 1), rnd.getrandbits(32)

    def random_tail(self, c):
        """Random bits where the backend must not care: cdw2, cdw3,
        cdw13-15, the upper half of cdw12 (FUA, LR, PRINFO, DEAC...)."""
        rnd = self.rnd
        if rnd.random() < 0.5:
            c.cdw[2], c.cdw[3] = rnd.getrandbits(32), rnd.getrandbits(32)
            c.cdw[13], c.cdw[14], c.cdw[15] = (rnd.getrandbits(32) for _ in range(3))
        if rnd.random() < 0.5:
            c.cdw[12] |= rnd.getrandbits(16) << 16

    def model_bytes(self, slba, nlb):
        return bytes(self.model[slba * self.bs:(slba + nlb) * self.bs])

    def in_range(self, slba, nlb):
        return slba + nlb <= self.nblocks  # Python ints: no wrap

    def all_exact(self, slba, nlb):
        return self.known[slba:slba + nlb].count(EXACT) == nlb

    def block_ok(self, lba, data):
        """Whether data may be block lba's content."""
        k = self.known[lba]
        if k == UNKNOWN:
            return True
        if data == self.model[lba * self.bs:(lba + 1) * self.bs]:
            return True
        return k == OR_ZERO and data.count(0) == self.bs

    def make(self, opcode):
        """A random command of that opcode."""
        rnd = self.rnd
        c = Cmd(opcode)
        c.buf_off = self.pick_buf_off()
        if opcode == OP_DSM:
            nr = rnd.choice([rnd.randint(1, 4), rnd.randint(1, 64), rnd.randint(1, 256)])
            c.cdw[10] = nr - 1
            if rnd.random() < 0.1:
                c.cdw[10] |= rnd.getrandbits(24) << 8  # reserved bits
            c.cdw[11] = DSM_AD if rnd.random() < 0.7 else 0
            c.cdw[11] |= rnd.getrandbits(2)  # IDR, IDW
            if rnd.random() < 0.1:
                c.cdw[11] = rnd.getrandbits(32)
            valid = rnd.random() < 0.3
            c.ranges = [self.pick_range(valid) for _ in range(nr)]
            data = b"".join(struct.pack("<IIQ", rnd.getrandbits(32), nl, s)
                            for s, nl in c.ranges)
            c.data_len = self.pick_len(nr * 16)
            extra = max(0, c.data_len - len(data))
            c.data = (data + rnd.randbytes(extra))[:c.data_len]
            c.ranges = c.ranges[:c.data_len // 16]
            return c
        nlb = self.pick_nlb()
        slba = self.pick_slba(nlb, opcode in HARMLESS)
        c.cdw[10], c.cdw[11], c.cdw[12] = slba & 0xFFFFFFFF, slba >> 32, nlb - 1
        self.random_tail(c)
        if opcode in (OP_READ, OP_WRITE, OP_COMPARE):
            c.data_len = self.pick_len(nlb * self.bs)
        elif opcode in (OP_WRITE_ZEROES, OP_VERIFY, OP_FLUSH):
            c.data_len = self.pick_len(0) if rnd.random() < 0.2 else 0
        else:
            c.data_len = rnd.choice([0, 0, self.pick_len(nlb * self.bs), rnd.randint(1, 64)])
            if rnd.random() < 0.3:
                c.cdw[12] = rnd.getrandbits(32)
        if opcode == OP_COMPARE and c.data_len:
            r = rnd.random()
            ok = (self.in_range(slba, nlb) and c.data_len == nlb * self.bs)
            if ok and r < 0.4:
                c.data = self.model_bytes(slba, nlb)
            elif ok and r < 0.7:
                d = bytearray(self.model_bytes(slba, nlb))
                i = rnd.randrange(len(d))
                d[i] ^= 1 << rnd.randrange(8)
                c.data = bytes(d)
            else:
                c.data = rnd.randbytes(c.data_len)
        elif opcode & 1 and c.data_len:  # the host sends data
            c.data = rnd.randbytes(c.data_len)
        return c

    def host_reject(self, c):
        """Fields the host driver rejects before sending (nvme_user_cmd)."""
        rnd = self.rnd
        r = rnd.random()
        if r < 0.02:
            # FUSE_FIRST, FUSE_SECOND, both, PSDT bits, anything
            c.flags = rnd.choice([0x01, 0x02, 0x03, 0x40, 0x80, 0xC0, rnd.randint(1, 255)])
            return True
        if r < 0.025:
            c.nsid = rnd.choice([0, 0xFFFFFFFF, self.nsid + 1, rnd.getrandbits(32)])
            return c.nsid != self.nsid
        return False

    # ---- the oracle ----

    def expect(self, c):
        """The statuses the target may return for c."""
        op = c.opcode
        if op not in SERVED:
            return {INVALID_OPCODE}
        if op == OP_FLUSH:
            return {SUCCESS} if c.data_len == 0 else {SGL_INVALID_DATA}
        if op == OP_DSM:
            spec = self.expect_dsm(c, (c.cdw[10] & 0xFF) + 1)
            if c.cdw[10] >> 8:
                # bits 31:08 of cdw10 are reserved, but nvmet reads NR
                # from the whole dword (nvmet_dsm_len(), the backends'
                # loops): either reading is accepted, see dsm_nvmet_only
                return spec | self.expect_dsm(c, (c.cdw[10] + 1) & 0xFFFFFFFF)
            return spec
        slba, nlb = c.slba, c.nlb
        need = nlb * self.bs if op in (OP_READ, OP_WRITE, OP_COMPARE) else 0
        len_ok, range_ok = c.data_len == need, self.in_range(slba, nlb)
        if not len_ok and not range_ok:
            return {SGL_INVALID_DATA, LBA_RANGE}  # either check may come first
        if not len_ok:
            return {SGL_INVALID_DATA}
        if not range_ok:
            return {LBA_RANGE}
        if op == OP_COMPARE:
            if not self.all_exact(slba, nlb):
                return {SUCCESS, COMPARE_FAILED}
            return {SUCCESS} if c.data == self.model_bytes(slba, nlb) else {COMPARE_FAILED}
        return {SUCCESS}

    def dsm_records(self, c):
        """The (slba, nlb) of every whole 16-byte record of c's data."""
        return [(s, nl) for _, nl, s in struct.iter_unpack("<IIQ", c.data[:len(c.data) // 16 * 16])]

    def expect_dsm(self, c, nr):
        """Dataset Management's status if the target reads nr ranges (as a
        u32: nvmet computes the length (NR + 1) * 16 in 32 bits)."""
        if c.data_len < (nr * 16) & 0xFFFFFFFF:
            return {SGL_INVALID_DATA}
        if not c.cdw[11] & DSM_AD:
            return {SUCCESS}
        for i, (s, nl) in enumerate(self.dsm_records(c)):
            if i == nr:
                break
            if not self.in_range(s, nl):
                return {LBA_RANGE}
        else:
            if nr > len(c.data) // 16:
                return {SGL_INVALID_DATA}  # the ranges run past the data
        return {SUCCESS}

    def forget(self, slba, nlb):
        """The model no longer knows these blocks (clipped to the namespace)."""
        lo, hi = min(slba, self.nblocks), min(slba + nlb, self.nblocks)
        self.known[lo:hi] = bytes(hi - lo)

    def set_blocks(self, slba, nlb, data):
        bs = self.bs
        self.model[slba * bs:(slba + nlb) * bs] = data
        self.known[slba:slba + nlb] = bytes([EXACT]) * nlb

    def maybe_zeroed(self, slba, nlb):
        for lba in range(slba, slba + nlb):
            if self.known[lba] == EXACT:
                if self.model[lba * self.bs:(lba + 1) * self.bs].count(0) != self.bs:
                    self.known[lba] = OR_ZERO

    def apply(self, c, st, expected):
        """Update the model after a completion; check a Read's data."""
        op = c.opcode
        bs = self.bs
        if st not in expected:
            # unexpected: forget whatever it may have touched
            if op == OP_DSM:
                for s, nl in c.ranges:
                    self.forget(s, nl)
            elif op not in HARMLESS:
                self.forget(c.slba, c.nlb)
                if op not in SERVED:
                    self.forget(self.half, self.nblocks)
            return
        if op == OP_DSM and c.cdw[10] >> 8:
            if st not in self.expect_dsm(c, (c.cdw[10] & 0xFF) + 1):
                self.dsm_nvmet_only += 1
            if c.cdw[11] & DSM_AD:
                for s, nl in self.dsm_records(c):
                    if self.in_range(s, nl):
                        self.maybe_zeroed(s, nl)
            return
        if op == OP_DSM and c.cdw[11] & DSM_AD and st in (SUCCESS, LBA_RANGE):
            # a failed Dataset Management may have applied some ranges
            for s, nl in c.ranges:
                if self.in_range(s, nl):
                    if st == SUCCESS:
                        self.set_blocks(s, nl, bytes(nl * bs))
                    else:
                        self.maybe_zeroed(s, nl)
        if st != SUCCESS:
            return
        slba, nlb = c.slba, c.nlb
        if op == OP_WRITE:
            self.set_blocks(slba, nlb, c.data)
        elif op == OP_WRITE_ZEROES:
            self.set_blocks(slba, nlb, bytes(nlb * bs))
        elif op == OP_READ:
            got = self.buf[c.buf_off:c.buf_off + c.data_len]
            for i in range(nlb):
                if not self.block_ok(slba + i, got[i * bs:(i + 1) * bs]):
                    where = "protected half" if slba + i < self.half else "fuzz region"
                    self.fail(f"command {self.sent}: Read of LBA {slba + i} ({where}) "
                              "returned data that was not written there")
                    self.forget(slba + i, 1)
                    break

    # ---- driving ----

    def one(self, c, local):
        res = self.submit(c)
        if res < 0:
            name = errno.errorcode.get(-res, str(-res))
            if local and res == -errno.EINVAL:
                self.errnos[name] = self.errnos.get(name, 0) + 1
                return True
            self.fail(f"command {self.sent}: {c.describe()}: ioctl error {name}"
                      + (" (the host should have rejected it: EINVAL)" if local else ""))
            return False
        if local:
            self.fail(f"command {self.sent}: {c.describe()}: the host sent it "
                      f"(status {status_name(res)}), expected EINVAL")
            return False
        st = res & ~MORE
        self.opcodes.add(c.opcode)
        self.stats[status_name(st)] = self.stats.get(status_name(st), 0) + 1
        expected = self.expect(c)
        self.apply(c, st, expected)
        if st not in expected:
            self.fail(f"command {self.sent}: {c.describe()}: status 0x{st:04x} "
                      f"({status_name(st)}), expected "
                      + " or ".join(f"0x{e:04x} ({status_name(e)})" for e in sorted(expected)))
            return False
        return True

    def random_cmd(self, opcode=None):
        """A random command; with opcode given (the sweep), one that the host
        sends."""
        rnd = self.rnd
        if opcode is not None:
            return self.make(opcode), False
        if rnd.random() < 0.78:
            opcode = rnd.choices(
                [OP_READ, OP_WRITE, OP_COMPARE, OP_WRITE_ZEROES, OP_DSM, OP_VERIFY, OP_FLUSH],
                [18, 18, 10, 10, 12, 6, 4])[0]
        else:
            opcode = rnd.randrange(256)
        c = self.make(opcode)
        return c, self.host_reject(c)

    def random_phase(self, n, sweep):
        """n random commands; the opcodes of sweep go out at even intervals."""
        at = {}
        for j, op in enumerate(sweep):
            at.setdefault(j * n // max(len(sweep), 1), []).append(op)
        for i in range(n):
            for op in at.get(i, []) + [None]:
                c, local = self.random_cmd(op)
                if not self.one(c, local) and self.stop():
                    return False
        return True

    def init_fail_phase(self, secs):
        """Only commands that fail in nvmet_req_init(): opcodes the target
        does not serve, with and without data."""
        rnd = self.rnd
        bad = [op for op in range(256) if op not in SERVED]
        end = time.monotonic() + secs
        n = 0
        while time.monotonic() < end:
            c = self.make(rnd.choice(bad))
            n += 1
            if not self.one(c, False) and self.stop():
                break
        return n

    def fill(self):
        self.model = bytearray(random.Random(self.seed ^ 0x5A5A).randbytes(self.nblocks * self.bs))
        self.direct_io(True, 0, self.model)

    def check_all(self):
        """Read the whole namespace back: the protected half must be intact,
        the fuzz region as the model says where it is sure."""
        got = self.direct_io(False, 0, nblk=self.nblocks)
        bs, bad_p, bad_f = self.bs, [], []
        for lba in range(self.nblocks):
            a, b = lba * bs, (lba + 1) * bs
            if lba < self.half:
                if got[a:b] != self.model[a:b]:
                    bad_p.append(lba)
            elif not self.block_ok(lba, got[a:b]):
                bad_f.append(lba)
        if bad_p:
            zero = sum(1 for lba in bad_p if got[lba * bs:(lba + 1) * bs].count(0) == bs)
            self.fail(f"protected half corrupted: {len(bad_p)} of {self.half} blocks differ "
                      f"(LBA {bad_p[0]}..{bad_p[-1]}, {zero} of them zeroes)")
        if bad_f:
            self.fail(f"fuzz region: {len(bad_f)} blocks differ from what was written "
                      f"(first LBA {bad_f[0]})")
        return self.nblocks - self.half - self.known[self.half:].count(UNKNOWN)

    def run(self):
        t0 = time.monotonic()
        print(f"# fuzz {self.dev}: seed {self.seed}, {self.count} random commands, "
              f"{self.nblocks} blocks of {self.bs} bytes, LBA 0-{self.half - 1} protected, "
              f"max data length {self.maxlen}, kato {self.kato} s; "
              f"controller {os.path.basename(self.ctrl)} cntlid {self.ctrl_attr('cntlid')} "
              f"state {self.ctrl_attr('state')}", flush=True)
        self.fill()
        sweep = list(range(256))
        self.rnd.shuffle(sweep)
        first = self.count // 2
        ok = self.random_phase(first, sweep)
        t1 = time.monotonic()
        print(f"# phase 1: {self.sent} commands in {t1 - t0:.1f} s", flush=True)
        n_init = 0
        if ok and self.kato > 0:
            before = self.sent
            n_init = self.init_fail_phase(4 * self.kato)
            t2 = time.monotonic()
            print(f"# phase 2: {self.sent - before} commands that fail in nvmet_req_init "
                  f"in {t2 - t1:.1f} s (4 x kato); controller state "
                  f"{self.ctrl_attr('state')}, cntlid {self.ctrl_attr('cntlid')}", flush=True)
            ok = self.lost is None and len(self.fails) < 20
        if ok:
            self.random_phase(self.count - first, [])
        try:
            known = self.check_all()
            print(f"# read back: {self.half} protected blocks, {known} known blocks of the "
                  "fuzz region checked", flush=True)
        except OSError as e:
            self.fail(f"reading the namespace back: {e}")
        dt = time.monotonic() - t0
        hist = ", ".join(f"{k} {v}" for k, v in sorted(self.stats.items(), key=lambda kv: -kv[1]))
        loc = ", ".join(f"{k} {v}" for k, v in sorted(self.errnos.items())) or "none"
        print(f"# fuzz summary: {self.sent} commands sent ({n_init} in the keep-alive phase) "
              f"in {dt:.1f} s, seed {self.seed}; statuses: {hist}; host-local errnos: {loc}; "
              f"opcodes that reached the target: {len(self.opcodes)}/256; "
              f"failures: {len(self.fails)}", flush=True)
        if self.dsm_nvmet_only:
            print(f"# note: {self.dsm_nvmet_only} Dataset Management commands with reserved "
                  "bits of cdw10 set completed as if those bits were part of NR (nvmet's "
                  "reading), not as bits 07:00 alone say", flush=True)
        nloc = sum(self.errnos.values())
        if nloc > self.sent // 10:
            self.fail(f"{nloc} host-local errnos out of {self.sent} commands: too many")
        if not self.fails and len(self.opcodes) < 256:
            self.fail(f"only {len(self.opcodes)} of the 256 opcodes reached the target")
        return not self.fails


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__[__doc__.index("usage:"):].strip())
    dev, count, seed, kato, ctrl = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        int(sys.argv[4]), sys.argv[5]
    sys.exit(0 if Fuzz(dev, count, seed, kato, ctrl).run() else 1)


if __name__ == "__main__":
    main()
