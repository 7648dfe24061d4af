#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Store torture: concurrent readers, writers, deallocators and Write Zeroes
on overlapping pages of one block device, checking every logical block read
against the history of the operations on it.

Each written block is filled with one 16-byte stamp, repeated: (LBA,
sequence, writer, run nonce). Every worker is a process of its own, so the
commands go through several queues at once. Buffers are O_DIRECT and, on
every other command, start in the middle of a page, so that each block of
the command straddles two pages of the host's buffer: two scatterlist
entries on the target.

A block read must be whole (all zeroes, or one stamp of its own LBA and of
this run), and not stale: operations on a block are intervals of time, a
write's [start, end] taken with time.monotonic_ns() before its syscall and
after it returns, and a read that began at R.start may return the version
of operation V (a write, or zeroes from a deallocation, Write Zeroes or the
run's initial deallocation) only if no operation X on that block lies
wholly between them: none with V.end < X.start and X.end < R.start. So a
read returns at least the last version completed before it began, or one
that overlapped it; a reader that returned zeroes when it met a writer, or
a lost overwrite, shows up as a stale version, and a stamp that no write had
begun as a phantom. Each mutating worker publishes a record of its
operation per block (sequence, start, end) in shared memory before its
syscall and completes it after the syscall returns, so an operation that
completed before a read began is visible to the reader's check, which runs
after its read; what overlapped the read is allowed old or new. The
recorded times enclose the real ones, which only makes the check lenient,
never wrong. Reads whose interval overlapped a write or deallocation of one
of their blocks are counted, and a run with none fails: it would have shown
nothing about concurrency.

Python's reads and writes are too slow to meet inside the kernel's copy of
a page often (about never, in a TCG guest), so collisions follow, for
COLLIDE_SECONDS: threads rewrite one page outside the torture's pages with
two versions in turn, as fast as they go, while others read it: a reader
that meets a writer must retry, so a block read as zeroes (the page was
written before any read began and is never deallocated) or as neither
version fails.

usage: store_torture.py DEV BLOCK_SIZE SECONDS [STATS LOSSES MAX_SECONDS]
Prints a line for the torture: iterations per worker kind; blocks verified
whole; stale, phantom and torn blocks, reads that overlapped a mutation of
their blocks, blocks that returned a write still in flight when the read
began, and blocks that the bounded history could not decide (unchecked,
allowed). Then a line for the collisions: writes, reads, blocks read as
zeroes and as neither version.

With STATS (the memory object's stats file), insert races follow: one
worker deallocates the first RACE_WINDOW bytes in a loop while
RACE_WRITERS x RACE_THREADS writers rewrite them whole, one command each,
so that writers keep allocating the same missing pages; when two allocate
one at once, one of them loses the insertion and must put the page it
allocated. They run until LOSSES were
lost, counted from the outside: lock statistics (/proc/lock_stat) count
every insertion and every removal, won or lost, as one acquisition of the
store's xarray lock (class nvmet_mem_pages; an insertion that must sleep
for an xarray node takes it twice, which is rare and would count one loss
too many), and the object's stats count the insertions won and the
removals; the rest are losses. Fails if MAX_SECONDS pass first. Prints a
third line with the counts. Lock statistics must be on.
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
WINDOW = 16 * 4096  # the bytes every worker works on
STAMP = struct.Struct("<QIHH")  # LBA, sequence, writer, run nonce
# Worker kinds, by worker id. The first four mutate blocks and publish
# their history: the writers' ids are the writer field of their stamps.
KINDS = ["write", "write", "discard", "zeroes", "read", "read", "read"]
MUTATORS = 4
ZEROING = (2, 3)
HIST = 16  # history records per (mutator, block)
REC = 3  # a record: sequence, start, end (ns; INFLIGHT until it ends)
INFLIGHT = 1 << 62
MAX_MSGS = 4  # failure messages printed per worker
RACE_WINDOW = 1 << 20  # races: the bytes rewritten whole and deallocated
# Collisions: threads of one writer and one reader process on one page.
COLLIDE_THREADS = 4
COLLIDE_SECONDS = 5
# Races: writer processes and threads each. Insert races need two writers
# between looking a page up and inserting it at once, which on a guest of
# two vCPUs happens mostly when one is preempted there: the more commands in
# flight, the likelier another writer runs then (measured: 2 x 8 lost
# several times more than 2 x 1, 4 x 2 or 8 x 2, at 30 to 60 a second).
RACE_WRITERS = 2
RACE_THREADS = 8


def stamp_block(lba, seq, writer, nonce, bs):
    return STAMP.pack(lba, seq, writer, nonce) * (bs // 16)


def whole_block(data, lba, nonce, bs):
    """(None, stamp or None for zeroes) if the block is whole, else (why, None)."""
    if data.count(0) == bs:
        return None, None
    first = data[:16]
    if first * (bs // 16) != data:
        return "torn: mixes versions", None
    got_lba, seq, writer, got_nonce = STAMP.unpack(first)
    if got_nonce != nonce or writer >= len(KINDS) or KINDS[writer] != "write":
        return f"not a stamp of this run ({first.hex()})", None
    if got_lba != lba:
        return f"block of LBA {got_lba} found at LBA {lba}", None
    return None, (seq, writer)


def buffer(nbytes, split):
    """An O_DIRECT buffer; with split it starts half a page in."""
    m = mmap.mmap(-1, nbytes + 2 * mmap.PAGESIZE)
    off = mmap.PAGESIZE // 2 if split else 0
    return m, memoryview(m)[off:off + nbytes]


class History:
    """Per (mutator, block): the last HIST operations, in shared memory.

    recs[((m * nblocks + b) * HIST + slot) * REC + field], count[m * nblocks
    + b] the records ever appended (slot = index % HIST). Only mutator m
    writes its records, under locks[m]; readers copy them under it.
    """

    def __init__(self, nblocks):
        self.nblocks = nblocks
        self.recs = mp.RawArray("q", MUTATORS * nblocks * HIST * REC)
        self.count = mp.RawArray("q", MUTATORS * nblocks)
        self.locks = [mp.Lock() for _ in range(MUTATORS)]

    def begin(self, m, lba, n, seq):
        """Records mutator m's operation seq on blocks [lba, lba + n) as
        started now; call right before the syscall."""
        with self.locks[m]:
            start = time.monotonic_ns()
            for b in range(lba, lba + n):
                i = m * self.nblocks + b
                at = (i * HIST + self.count[i] % HIST) * REC
                self.recs[at:at + REC] = [seq, start, INFLIGHT]
                self.count[i] += 1

    def end(self, m, lba, n):
        """Completes the operation begun last on those blocks: call after
        the syscall returned."""
        with self.locks[m]:
            end = time.monotonic_ns()
            for b in range(lba, lba + n):
                i = m * self.nblocks + b
                at = (i * HIST + (self.count[i] - 1) % HIST) * REC + 2
                self.recs[at] = end

    def snapshot(self, lba, n):
        """hist[m][k]: mutator m's records of block lba + k, oldest first,
        and whether older ones were dropped."""
        hist = []
        for m in range(MUTATORS):
            i = m * self.nblocks + lba
            with self.locks[m]:
                recs = self.recs[i * HIST * REC:(i + n) * HIST * REC]
                count = self.count[i:i + n]
            blocks = []
            for k in range(n):
                c = count[k]
                have = min(c, HIST)
                base = k * HIST * REC
                rows = [tuple(recs[base + (j % HIST) * REC:base + (j % HIST) * REC + REC])
                        for j in range(c - have, c)]
                blocks.append((rows, c > HIST))
            hist.append(blocks)
        return hist


def check_version(hist, k, got, t_begin, t_end, t0):
    """Checks the version `got` (None: zeroes, else (seq, writer)) read from
    block k of a read over [t_begin, t_end]. Returns (verdict, detail):
    verdict "ok", "inflight" (ok: a write that had not completed when the
    read began), "unchecked" (ok: the bounded history cannot decide),
    "stale" or "phantom"."""
    # newest: the latest start of an operation that completed before the
    # read began, per mutator (its operations on a block are sequential, so
    # its last one that completed then is its latest-starting one).
    newest, by = t0, "the initial deallocation"
    for m in range(MUTATORS):
        rows, dropped = hist[m][k]
        done = [r for r in rows if r[2] < t_begin]
        if done and done[-1][1] > newest:
            newest, by = done[-1][1], f"{KINDS[m]}{m} #{done[-1][0]}"
    if got is None:
        # The best zero version: the zeroing operation begun before the
        # read ended that ended last (or the initial state).
        best = t0
        for m in ZEROING:
            rows, dropped = hist[m][k]
            begun = [r for r in rows if r[1] < t_end]
            if begun:
                best = max(best, begun[-1][2])
            elif dropped:
                return "unchecked", None
        if best >= newest:
            return "ok", None
        return "stale", f"zeroes, but {by} began after the last zeroing ended and completed before the read began"
    seq, w = got
    rows, dropped = hist[w][k]
    for r in rows:
        if r[0] == seq:
            if r[1] > t_end:
                return "phantom", f"write{w} #{seq} began after the read ended"
            if r[2] >= newest:
                return ("inflight" if r[2] >= t_begin else "ok"), None
            return "stale", f"write{w} #{seq} (ended {r[2] - t0} ns), but {by} began after it ended and completed before the read began"
    if not rows or seq > rows[-1][0] or not dropped or seq > rows[0][0]:
        return "phantom", f"write{w} #{seq}, which did not write this block or had not begun"
    # An old record, dropped: the write ended before the oldest one kept began.
    if newest >= rows[0][1]:
        return "stale", f"write{w} #{seq}, older than write{w} #{rows[0][0]}, but {by} completed before the read began"
    return "unchecked", None


def worker(wid, dev, bs, nblocks, nonce, secs, t0, hist, start, out):
    kind = KINDS[wid]
    rnd = random.Random(wid * 7919 + os.getpid())
    try:
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    except OSError as e:
        start.abort()
        out.put(("fail", [f"{kind}{wid}: {e}"], kind, {}))
        return
    n_it = 0
    seq = 0
    c = dict.fromkeys(["blocks", "stale", "phantom", "torn", "overlapped",
                       "inflight", "unchecked"], 0)
    msgs = []
    # The clock starts when every worker is ready: on a loaded host, starting
    # seven processes can take longer than the whole run.
    try:
        start.wait()
    except threading.BrokenBarrierError:
        os.close(fd)
        out.put(("fail", [f"{kind}{wid}: another worker did not start"], kind, c))
        return
    deadline = time.monotonic() + secs
    try:
        while n_it == 0 or time.monotonic() < deadline:
            n = rnd.randint(1, MAX_BLOCKS)
            lba = rnd.randrange(0, nblocks - n + 1)
            split = n_it % 2 == 1
            if kind == "read":
                m, view = buffer(n * bs, split)
                t_begin = time.monotonic_ns()
                if os.preadv(fd, [view], lba * bs) != n * bs:
                    raise OSError("short read")
                t_end = time.monotonic_ns()
                data = bytes(view)
                view.release()
                m.close()
                h = hist.snapshot(lba, n)
                overlapped = False
                for k in range(n):
                    why, got = whole_block(data[k * bs:(k + 1) * bs], lba + k, nonce, bs)
                    if why:
                        c["torn"] += 1
                        verdict = "torn"
                    else:
                        verdict, why = check_version(h, k, got, t_begin, t_end, t0)
                        c[verdict] = c.get(verdict, 0) + 1
                    if why and len(msgs) < MAX_MSGS:
                        msgs.append(f"{kind}{wid}: LBA {lba + k} ({verdict}): {why}; "
                                    f"read at [{t_begin - t0}, {t_end - t0}] ns")
                    overlapped = overlapped or any(
                        r[1] < t_end and r[2] > t_begin for mh in h for r in mh[k][0])
                c["blocks"] += n
                c["overlapped"] += overlapped
            else:
                seq += 1
                if kind == "write":
                    m, view = buffer(n * bs, split)
                    view[:] = b"".join(stamp_block(lba + i, seq, wid, nonce, bs)
                                       for i in range(n))
                hist.begin(wid, lba, n, seq)
                if kind == "write":
                    if os.pwritev(fd, [view], lba * bs) != n * bs:
                        raise OSError("short write")
                elif kind == "discard":
                    fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", lba * bs, n * bs))
                else:
                    fcntl.ioctl(fd, BLKZEROOUT, struct.pack("QQ", lba * bs, n * bs))
                hist.end(wid, lba, n)
                if kind == "write":
                    view.release()
                    m.close()
            n_it += 1
    except OSError as e:
        out.put(("fail", msgs + [f"{kind}{wid}: {e}"], kind, c))
        return
    finally:
        os.close(fd)
    c["iterations"] = n_it
    bad = c["stale"] + c["phantom"] + c["torn"]
    out.put(("fail" if bad else "ok", msgs, kind, c))


def collider(kind, dev, bs, page, versions, secs, start, out):
    """collisions: COLLIDE_THREADS threads rewrite `page` with the versions
    in turn (kind "write") or read it and count the blocks that are neither
    (kind "read")."""
    res = {"n": 0, "zeroes": 0, "torn": 0}
    msgs = []
    lock = threading.Lock()

    def loop(t, fd, deadline):
        # Every other thread's buffer starts half a page in (two
        # scatterlist entries per block), as in the torture.
        m, view = buffer(4096, t % 2 == 1)
        n = zeroes = torn = 0
        try:
            while n == 0 or time.monotonic() < deadline:
                if kind == "write":
                    view[:] = versions[n % 2]
                    if os.pwritev(fd, [view], page * 4096) != 4096:
                        raise OSError("short write")
                else:
                    if os.preadv(fd, [view], page * 4096) != 4096:
                        raise OSError("short read")
                    data = bytes(view)
                    if data not in versions:
                        for k in range(4096 // bs):
                            b = data[k * bs:(k + 1) * bs]
                            if b.count(0) == bs:
                                zeroes += 1
                            elif all(b != v[k * bs:(k + 1) * bs] for v in versions):
                                torn += 1
                n += 1
        except OSError as e:
            msgs.append(f"collide-{kind}: {e}")
        with lock:
            res["n"] += n
            res["zeroes"] += zeroes
            res["torn"] += torn

    try:
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        start.wait()
    except (OSError, threading.BrokenBarrierError) as e:
        start.abort()
        out.put(("fail", [f"collide-{kind}: {e}"], kind, res))
        return
    deadline = time.monotonic() + secs
    threads = [threading.Thread(target=loop, args=(t, fd, deadline))
               for t in range(COLLIDE_THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    os.close(fd)
    out.put(("fail" if msgs else "ok", msgs, kind, res))


def collisions(dev, bs, nonce, secs):
    """One page, never deallocated, rewritten with two versions in turn
    while it is read, as fast as the threads go: a read that meets a write
    in the page must retry (or wait), so no block read may be zeroes (a
    version completed before any read began) or anything but one of the two
    versions. Prints a line; whether no read failed."""
    page = WINDOW // 4096  # the page after the torture's
    versions = [b"".join(stamp_block(page * 4096 // bs + k, seq, 0, nonce, bs)
                         for k in range(4096 // bs)) for seq in (1 << 31, (1 << 31) + 1)]
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    m, view = buffer(4096, False)
    view[:] = versions[0]
    written = os.pwritev(fd, [view], page * 4096)
    os.close(fd)
    if written != 4096:
        print("# FAIL: collisions: short write")
        return False
    out = mp.Queue()
    start = mp.Barrier(2)
    procs = [mp.Process(target=collider, args=(k, dev, bs, page, versions, secs, start, out))
             for k in ("write", "read")]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ok = True
    got = {}
    for status, msgs, kind, res in results:
        for msg in msgs:
            print(f"# FAIL: {msg}")
        ok = ok and status == "ok"
        got[kind] = res
    r, w = got.get("read", {}), got.get("write", {})
    print(f"# collisions bs={bs}: {secs:.0f}s, {COLLIDE_THREADS} writer and {COLLIDE_THREADS} "
          f"reader threads on one page: {w.get('n', 0)} writes, {r.get('n', 0)} reads; "
          f"blocks read as zeroes {r.get('zeroes', 0)}, torn or foreign {r.get('torn', 0)}")
    if r.get("zeroes", 0) or r.get("torn", 0):
        print("# FAIL: a read of a page being rewritten returned zeroes or a torn block")
        ok = False
    return ok and r.get("n", 0) > 0 and w.get("n", 0) > 0


def racer(wid, dev, window, start, go, stop, busy, out):
    """races: worker 0 deallocates the window in a loop, the others rewrite
    it whole from RACE_THREADS threads each (one command in flight per
    thread). A thread issues a command only while `go` is set, counted in
    `busy` until it returns, so that the counts can be taken at rest."""
    try:
        fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
        m, view = buffer(window, False)
        view[:] = bytes([wid]) * window
        counts = [0] * (RACE_THREADS if wid else 1)
        errors = []

        def loop(t):
            try:
                while not stop.is_set():
                    with busy.get_lock():
                        busy.value += 1
                    try:
                        if go.is_set():
                            if wid == 0:
                                fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", 0, window))
                            elif os.pwritev(fd, [view], 0) != window:
                                raise OSError("short write")
                            counts[t] += 1
                    finally:
                        with busy.get_lock():
                            busy.value -= 1
                    if not go.is_set():
                        go.wait(0.05)
            except OSError as e:
                errors.append(e)
                stop.set()

        threads = [threading.Thread(target=loop, args=(t,)) for t in range(len(counts))]
        start.wait()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        os.close(fd)
        if errors:
            raise errors[0]
    except (OSError, threading.BrokenBarrierError) as e:
        start.abort()
        out.put(("fail", f"racer{wid}: {e}", 0))
        return
    out.put(("ok", "discard" if wid == 0 else "write", sum(counts)))


def store_counts(stats):
    """(acquisitions of the store's lock, pages inserted, pages removed):
    lock statistics count every insertion and removal, won or lost; the
    object's stats count the insertions that won and the removals."""
    acq = 0
    with open("/proc/lock_stat") as f:
        for line in f:
            w = line.split()
            if w and w[0] == "nvmet_mem_pages:":
                acq += int(w[8])
    st = {}
    with open(stats) as f:
        for line in f:
            k, v = line.split()
            st[k] = int(v)
    return acq, st["pages_allocated"], st["pages_freed"]


def races(dev, stats, want, max_secs):
    """Insert races until `want` were lost or `max_secs` passed; whether
    `want` were."""
    with open(dev, "rb") as f:
        window = min(f.seek(0, os.SEEK_END), RACE_WINDOW)
    nproc = 1 + RACE_WRITERS
    out = mp.Queue()
    start = mp.Barrier(nproc + 1)
    go, stop = mp.Event(), mp.Event()
    busy = mp.Value("i", 0)
    procs = [mp.Process(target=racer, args=(i, dev, window, start, go, stop, busy, out))
             for i in range(nproc)]
    for p in procs:
        p.start()
    before = store_counts(stats)
    lost, secs = 0, 0.0
    # Rounds: race, then let every command return and count. Reading the
    # lock statistics takes a while (seconds in a TCG guest), and the counts
    # agree only at rest: a writer between counting a page and inserting it
    # counts as a loss, the lock statistics lag the object's stats.
    rnd = 2.0
    try:
        start.wait()
        while not stop.is_set():
            go.set()
            t = time.monotonic()
            stop.wait(rnd)
            go.clear()
            while busy.value:
                time.sleep(0.01)
            secs += time.monotonic() - t
            acq, ins, rem = (a - b for a, b in zip(store_counts(stats), before))
            lost = acq - ins - rem
            if lost >= want or secs >= max_secs:
                break
            # long enough for the rest at the rate so far, and a half more,
            # but not so long that a slow start decides it (races come in
            # bursts, when both vCPUs run)
            rnd = min(5.0, max_secs - secs, max(1.0, (want - lost) * 1.5 * secs / max(lost, 1)))
    except threading.BrokenBarrierError:
        pass
    stop.set()
    go.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    tot = {}
    failed = False
    for r in results:
        if r[0] == "fail":
            print(f"# FAIL: {r[1]}")
            failed = True
        else:
            tot[r[1]] = tot.get(r[1], 0) + r[2]
    acq, ins, rem = (a - b for a, b in zip(store_counts(stats), before))
    lost = acq - ins - rem
    print(f"# races: {secs:.1f}s, {RACE_WRITERS * RACE_THREADS} writers on {window // 4096} pages: "
          f"{tot.get('discard', 0)} deallocations, {tot.get('write', 0)} writes of them whole; "
          f"store lock taken {acq} times, {ins} pages inserted, {rem} removed: "
          f"{lost} insert races lost")
    if lost < want:
        print(f"# FAIL: {lost} insert races lost in {secs:.0f} s, fewer than the {want} wanted")
        failed = True
    return not failed


def main():
    if len(sys.argv) not in (4, 7):
        sys.exit(__doc__)
    dev, bs, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    with open(dev, "rb") as f:
        size = f.seek(0, os.SEEK_END)
    # A few pages only, so that every kind of worker meets every other on
    # the same pages all the time.
    nblocks = min(size // bs, WINDOW // bs)
    # Start from zeroes: an earlier run's stamps have another nonce.
    fd = os.open(dev, os.O_RDWR)
    fcntl.ioctl(fd, BLKDISCARD, struct.pack("QQ", 0, nblocks * bs))
    os.close(fd)
    t0 = time.monotonic_ns()
    nonce = random.randrange(1, 1 << 16)
    hist = History(nblocks)
    out = mp.Queue()
    start = mp.Barrier(len(KINDS))
    procs = [mp.Process(target=worker,
                        args=(i, dev, bs, nblocks, nonce, secs, t0, hist, start, out))
             for i in range(len(KINDS))]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    tot, its = {}, {}
    failed = False
    for status, msgs, kind, c in results:
        failed = failed or status == "fail"
        for msg in msgs:
            print(f"# FAIL: {msg}")
        its[kind] = its.get(kind, 0) + c.get("iterations", 0)
        for key, v in c.items():
            if key != "iterations":
                tot[key] = tot.get(key, 0) + v
    verified = tot.get("blocks", 0)
    print(f"# torture bs={bs}: {secs:.0f}s, iterations "
          + ", ".join(f"{k} {v}" for k, v in sorted(its.items()))
          + f"; {verified} blocks ({verified * bs} bytes) verified whole"
          + f"; history: stale {tot.get('stale', 0)}, phantom {tot.get('phantom', 0)}"
          + f", torn {tot.get('torn', 0)}, overlapped reads {tot.get('overlapped', 0)}"
          + f", in-flight versions {tot.get('inflight', 0)}"
          + f", unchecked {tot.get('unchecked', 0)}")
    if tot.get("overlapped", 0) == 0:
        print("# FAIL: no read overlapped a write or deallocation of its blocks")
        failed = True
    if its.get("read", 0) == 0 or its.get("write", 0) == 0:
        failed = True
    if not collisions(dev, bs, nonce, COLLIDE_SECONDS):
        failed = True
    if len(sys.argv) == 7 and not races(dev, sys.argv[4], int(sys.argv[5]), float(sys.argv[6])):
        failed = True
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
