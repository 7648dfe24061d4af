#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Store torture: concurrent readers, writers, deallocators and Write Zeroes
on overlapping pages of one block device, checking that every logical block
read is whole: all zeroes, or one version that a writer wrote there (never a
mix of two, never another block's data).

Each written block is filled with one 16-byte stamp, repeated: (LBA, writer,
sequence). Every worker is a process of its own, so the commands go through
several queues at once. Buffers are O_DIRECT and, on every other command,
start in the middle of a page, so that each block of the command straddles
two pages of the host's buffer: two scatterlist entries on the target.

usage: store_torture.py DEV BLOCK_SIZE SECONDS
Prints one line: iterations, blocks and bytes verified, per worker kind.
"""
import fcntl
import mmap
import multiprocessing as mp
import os
import random
import struct
import sys
import threading
import time

BLKDISCARD = 0x1277
BLKZEROOUT = 0x127F
MAX_BLOCKS = 8  # blocks per command, at most


def stamp_block(lba, writer, seq, bs):
    return struct.pack("<QII", lba, writer, seq) * (bs // 16)


def check_block(data, lba, bs):
    """None if the block is whole (zeroes or one stamp of its LBA), else why."""
    if data.count(0) == bs:
        return None
    first = data[:16]
    if first * (bs // 16) != data:
        return "torn: mixes versions"
    got_lba, writer, seq = struct.unpack("<QII", first)
    if got_lba != lba:
        return f"block of LBA {got_lba} found at LBA {lba}"
    return None


def buffer(nbytes, split):
    """An O_DIRECT buffer; with split it starts half a page in."""
    m = mmap.mmap(-1, nbytes + 2 * mmap.PAGESIZE)
    off = mmap.PAGESIZE // 2 if split else 0
    return m, memoryview(m)[off:off + nbytes]


def worker(kind, wid, dev, bs, nblocks, secs, start, out):
    rnd = random.Random(wid * 7919 + os.getpid())
    try:
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    except OSError as e:
        start.abort()
        out.put(("fail", f"{kind}{wid}: {e}"))
        return
    iters = blocks = 0
    seq = 0
    # The clock starts when every worker is ready: on a loaded host, starting
    # seven processes can take longer than the whole run.
    try:
        start.wait()
    except threading.BrokenBarrierError:
        os.close(fd)
        out.put(("fail", f"{kind}{wid}: another worker did not start"))
        return
    deadline = time.monotonic() + secs
    try:
        while iters == 0 or time.monotonic() < deadline:
            n = rnd.randint(1, MAX_BLOCKS)
            lba = rnd.randrange(0, nblocks - n + 1)
            split = iters % 2 == 1
            if kind == "write":
                seq += 1
                m, view = buffer(n * bs, split)
                view[:] = b"".join(stamp_block(lba + i, wid, seq, bs) for i in range(n))
                if os.pwritev(fd, [view], lba * bs) != n * bs:
                    raise OSError("short write")
                view.release()
                m.close()
            elif kind == "read":
                m, view = buffer(n * bs, split)
                if os.preadv(fd, [view], lba * bs) != n * bs:
                    raise OSError("short read")
                data = bytes(view)
                view.release()
                m.close()
                for i in range(n):
                    why = check_block(data[i * bs:(i + 1) * bs], lba + i, bs)
                    if why:
                        out.put(("fail", f"{kind}{wid}: LBA {lba + i}: {why}"))
                        return
                blocks += n
            elif kind == "discard":
                fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", lba * bs, n * bs))
            elif kind == "zeroes":
                fcntl.ioctl(fd, BLKZEROOUT, struct.pack("QQ", lba * bs, n * bs))
            iters += 1
    except OSError as e:
        out.put(("fail", f"{kind}{wid}: {e}"))
        return
    finally:
        os.close(fd)
    out.put(("ok", kind, iters, blocks))


def main():
    dev, bs, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with open(dev, "rb") as f:
        size = f.seek(0, os.SEEK_END)
    # A few pages only, so that every kind of worker meets every other on
    # the same pages all the time.
    nblocks = min(size // bs, (16 * 4096) // bs)
    kinds = ["write", "write", "read", "read", "read", "discard", "zeroes"]
    out = mp.Queue()
    start = mp.Barrier(len(kinds))
    procs = [mp.Process(target=worker, args=(k, i, dev, bs, nblocks, secs, start, out))
             for i, k in enumerate(kinds)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    fails = [r[1] for r in results if r[0] == "fail"]
    for f in fails:
        print(f"# FAIL: {f}")
    tot = {}
    for r in results:
        if r[0] == "ok":
            it, bl = tot.get(r[1], (0, 0))
            tot[r[1]] = (it + r[2], bl + r[3])
    reads, verified = tot.get("read", (0, 0))
    print(f"# torture bs={bs}: {secs:.0f}s, iterations "
          + ", ".join(f"{k} {v[0]}" for k, v in sorted(tot.items()))
          + f"; {verified} blocks ({verified * bs} bytes) verified whole")
    if fails or reads == 0 or tot.get("write", (0, 0))[0] == 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
