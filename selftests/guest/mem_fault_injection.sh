#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Allocation failures aimed at the module (fail_page_alloc and failslab,
# stack-trace filtered to nvmet_mem's text) while 256 writes run: every failed
# allocation reaches the host as an NVMe error status (Internal Error, not
# a hang or a crash), acknowledged writes read back intact once injection
# stops, failed ones leave nothing behind, and the module's page count is
# exact. Then no page is leaked by the kernel's own count (/proc/vmstat):
# 1024 writes whose page is allocated but cannot be inserted (failslab on
# the xarray's node cache only) leave the pages in use where they were,
# the same writes without injection raise them by 1024 (the count sees
# the module's pages), and deallocating those brings them back.
. "$(dirname "$0")/../lib.sh"
dbg=/sys/kernel/debug
[ -d "$dbg/fail_page_alloc" ] && [ -d "$dbg/failslab" ] ||
	skip "kernel without FAIL_PAGE_ALLOC/FAILSLAB debugfs (use the debug kernel)"
[ -e "$dbg/fail_page_alloc/require-start" ] || skip "no FAULT_INJECTION_STACKTRACE_FILTER"
load_mem
new_mem_obj fi0 16M 4096
new_subsys testnqn.fi
new_ns testnqn.fi 1
mem_ns testnqn.fi 1 fi0
export_loop testnqn.fi 81
connect_loop testnqn.fi

# the module's address range, from /proc/modules (base and size), which
# shows addresses only with kptr_restrict off
kptr=$(cat /proc/sys/kernel/kptr_restrict)
cleanup_add "echo $kptr > /proc/sys/kernel/kptr_restrict"
echo 0 >/proc/sys/kernel/kptr_restrict
read -r size base < <(awk '$1 == "nvmet_mem" { print $2, $6 }' /proc/modules)
# kernel addresses exceed bash's signed range: keep them in hex (the sum
# wraps in two's complement, which %x prints as the right unsigned value)
[ -n "$base" ] && [ "$((base))" != 0 ] || fail "no module address in /proc/modules"
start=$base end=$(printf '0x%x' $((base + size)))

inject() { # inject PERCENT: aim both capabilities at the module
	local f
	for f in fail_page_alloc failslab; do
		echo 0 >"$dbg/$f/probability"
		echo N >"$dbg/$f/ignore-gfp-wait" 2>/dev/null
		echo 0 >"$dbg/$f/verbose"
		echo 1 >"$dbg/$f/interval"
		echo "$start" >"$dbg/$f/require-start"
		echo "$end" >"$dbg/$f/require-end"
		echo 10 >"$dbg/$f/stacktrace-depth"
		echo 100000 >"$dbg/$f/times"
		echo "$1" >"$dbg/$f/probability"
	done
	echo N >"$dbg/fail_page_alloc/ignore-gfp-highmem" 2>/dev/null
	echo 0 >"$dbg/fail_page_alloc/min-order" 2>/dev/null
}
cleanup_add "echo 0 > $dbg/fail_page_alloc/probability; echo 0 > $dbg/failslab/probability"

nblk=320 # 64 written before injection, 256 during it
pat=$(mktemp) back=$(mktemp) log=$(mktemp)
cleanup_add "rm -f '$pat' '$back' '$log'"
head -c $((nblk * 4096)) /dev/urandom >"$pat"
# block B of the test holds block B of $pat. Writes go through the
# passthrough ioctl (the host driver does not retry them), one process for
# all of them; each line of output is "BLOCK STATUS" (STATUS: the NVMe
# status, or -errno).
wr() { # wr FIRST LAST
	python3 - "$DEV" "$pat" "$1" "$2" <<'PY'
import ctypes, fcntl, mmap, os, struct, sys
dev, pat, first, last = sys.argv[1], open(sys.argv[2], "rb").read(), int(sys.argv[3]), int(sys.argv[4])
fd = os.open(dev, os.O_RDWR)
nsid = fcntl.ioctl(fd, 0x4E40)  # NVME_IOCTL_ID
buf = mmap.mmap(-1, 4096)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
for b in range(first, last + 1):
    buf[:] = pat[b * 4096:(b + 1) * 4096]
    # struct nvme_passthru_cmd: Write of one block at LBA b
    arg = bytearray(struct.pack("<BBHIIIQQII6III", 0x01, 0, 0, nsid, 0, 0, 0, addr, 0, 4096,
                                b & 0xFFFFFFFF, b >> 32, 0, 0, 0, 0, 0, 0))
    try:
        st = fcntl.ioctl(fd, 0xC0484E43, arg, True)  # NVME_IOCTL_IO_CMD
    except OSError as e:
        st = -e.errno
    print(b, st, flush=True)
PY
}

wr 0 63 >"$log" || fail "setup writes"
awk '$2 != 0 { bad = 1 } END { exit bad }' "$log" || { head "$log"; fail "setup write failed"; }
[ "$(wc -l <"$log")" = 64 ] || fail "setup writes: $(wc -l <"$log") of 64 done"
before_pages=$(( $(cat "$MEMCFS/fi0/allocated") / 4096 ))

inject 30
wr 64 $((nblk - 1)) >"$log"
echo 0 >"$dbg/fail_page_alloc/probability"
echo 0 >"$dbg/failslab/probability"
[ "$(wc -l <"$log")" = $((nblk - 64)) ] || fail "$(wc -l <"$log") of $((nblk - 64)) writes completed"
ok=() failed=()
while read -r b st; do
	if [ "$st" = 0 ]; then
		ok+=("$b")
	elif [ $((st & 0x7ff)) = 6 ]; then # Internal Error
		failed+=("$b")
	else
		fail "block $b: status $st, expected success or Internal Error"
	fi
done <"$log"
remaining=$(cat "$dbg/fail_page_alloc/times")
remaining_slab=$(cat "$dbg/failslab/times")
injected=$(( 200000 - remaining - remaining_slab ))
msg "${#ok[@]} writes acknowledged, ${#failed[@]} failed with Internal Error; $injected allocation failures injected"
[ ${#failed[@]} -gt 0 ] || fail "no write failed: injection did not reach the module"
[ ${#ok[@]} -gt 0 ] || fail "every write failed"

# the device still works; every acknowledged block is intact, and a failed
# write left nothing behind (its page was never inserted): it reads zeroes
dd if="$DEV" of="$back" bs=4096 count="$nblk" iflag=direct status=none ||
	fail "read back"
python3 - "$pat" "$back" "${#ok[@]}" "${ok[@]}" "${failed[@]}" <<'PY' || fail "data check"
import sys
pat, back = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
nok = int(sys.argv[3])
ok = [int(b) for b in sys.argv[4:4 + nok]]
failed = [int(b) for b in sys.argv[4 + nok:]]
blk = lambda d, b: d[b * 4096:(b + 1) * 4096]
bad = [b for b in list(range(64)) + ok if blk(pat, b) != blk(back, b)]
dirty = [b for b in failed if blk(back, b) != bytes(4096)]
if bad or dirty:
    print("# acknowledged blocks damaged:", bad[:10], "failed blocks holding data:", dirty[:10])
    sys.exit(1)
PY
pages=$(( $(cat "$MEMCFS/fi0/allocated") / 4096 ))
[ "$pages" = $((before_pages + ${#ok[@]})) ] ||
	fail "$pages pages in use, expected $((before_pages + ${#ok[@]})): leak or loss"
msg "$(( (64 + ${#ok[@]}) * 4096 )) bytes verified after injection; page count exact"

# --- no page leaked, by the kernel's own count ---
# The page count above is the module's own counter, and kmemleak does not
# track pages: a page allocated for a write and then not inserted, if never
# freed, would pass it. So take that path many times and watch the
# kernel's own count of pages in use, from /proc/vmstat: the sum of
# pgalloc_* minus pgfree (counted per page as it leaves or returns to the
# page allocator, per-CPU lists included), less the pages that the kernel
# accounts to something else: slab (KASAN's quarantine keeps freed slab
# objects, and so their pages, for a while: hundreds of pages either way
# per 1000 commands), page cache, anonymous memory, page tables, kernel
# stacks and vmalloc. What is left is pages allocated as bare pages, the
# store's among them. Those node counters are folded from the per-CPU
# deltas (vm.stat_refresh) before each read.
# failslab alone, filtered to the xarray node cache (cache-filter and the
# cache's failslab flag) and still to the module's stack, fails the node
# allocation of every insertion into a stretch of the index that has no
# node yet: blocks 1024.. were never written, a leaf node covers 64 pages
# and the root above them exists (the writes above). Each write there
# allocates its page (fail_page_alloc is off), fails to insert it, must
# free it, and ends with Internal Error: N such writes leak N pages if the
# failure path does not free its page.
# One python process runs three steps and reads the count before and
# after each (no process starts or exits in between):
#   1. NFI writes with injection on: the count must move by at most TOL;
#   2. the same writes with injection off: it must rise by NFI, within
#      TOL (the positive control: the count sees the module's pages one
#      for one, and nothing freed meanwhile hides NFI pages);
#   3. Write Zeroes over them (deallocates; the pages are put a grace
#      period late, by call_rcu): it must fall by NFI, within TOL.
# Each step polls the count for up to 10 s until it is within TOL of what
# it should be. TOL: what else allocates bare pages meanwhile (the stack
# depot's pools, pipe buffers, the odd page of a driver), measured at
# 20 pages per step at most (where all pages in use, slab included, moved
# by up to 250); 1/16 of NFI, so a leak of a sixteenth of the failed
# inserts fails. At least MIN_FAILED writes must fail so, each with its
# page allocated (pgalloc rises by as much) and its node allocations
# failed (failslab counts them).
NFI=1024 TOL=64 MIN_FAILED=1000 first=1024
slab=/sys/kernel/slab/radix_tree_node/failslab
[ -w "$slab" ] || fail "no $slab to aim failslab at the xarray's nodes"
cleanup_add "echo 0 > $slab; echo N > $dbg/failslab/cache-filter; echo $(cat "$dbg/failslab/stacktrace-depth") > $dbg/failslab/stacktrace-depth"
echo 0 >"$dbg/fail_page_alloc/probability"
echo 0 >"$dbg/failslab/probability"
echo 1 >"$slab" || fail "failslab flag of radix_tree_node"
echo Y >"$dbg/failslab/cache-filter"
# the allocation is a dozen frames below the module's insert: look at all
echo 32 >"$dbg/failslab/stacktrace-depth"
echo 100000 >"$dbg/failslab/times"
held=$(cat "$MEMCFS/fi0/allocated")
res=$(python3 - "$DEV" "$dbg/failslab/probability" "$first" "$NFI" "$TOL" <<'PY'
import ctypes, fcntl, mmap, os, struct, sys, time
dev, prob, first, n, tol = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
fd = os.open(dev, os.O_RDWR)
nsid = fcntl.ioctl(fd, 0x4E40)  # NVME_IOCTL_ID
buf = mmap.mmap(-1, 4096)
buf[:] = os.urandom(4096)
addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
arg = bytearray(72)  # struct nvme_passthru_cmd
vm = os.open("/proc/vmstat", os.O_RDONLY)

def cmd(op, slba, nlb, data):
    struct.pack_into("<BBHIIIQQII6III", arg, 0, op, 0, 0, nsid, 0, 0, 0,
                     addr if data else 0, 0, 4096 if data else 0,
                     slba & 0xFFFFFFFF, slba >> 32, nlb - 1, 0, 0, 0, 0, 0)
    try:
        return fcntl.ioctl(fd, 0xC0484E43, arg, True)  # NVME_IOCTL_IO_CMD
    except OSError as e:
        return -e.errno

# bytes, KiB or pages of what the kernel accounts to other uses
OTHER = {"nr_slab_reclaimable": 1, "nr_slab_unreclaimable": 1, "nr_file_pages": 1,
         "nr_anon_pages": 1, "nr_page_table_pages": 1, "nr_kernel_stack": 4,
         "nr_vmalloc": 1}

def count():  # bare pages in use, pages ever allocated: the kernel's count
    with open("/proc/sys/vm/stat_refresh", "w") as r:
        r.write("1")
    os.lseek(vm, 0, os.SEEK_SET)
    text, a, f, other = b"", 0, 0, 0
    while chunk := os.read(vm, 65536):
        text += chunk
    for line in text.decode().splitlines():
        k, v = line.split()
        if k.startswith("pgalloc_"):
            a += int(v)
        elif k == "pgfree":
            f += int(v)
        elif k in OTHER:
            other += int(v) // OTHER[k]
    return a - f - other, a - f, a

def step(want, run):  # what `run` returns; how the counts moved; seconds
    t, c0 = time.monotonic(), count()
    out = run()
    end = time.monotonic() + 10
    while True:
        c = count()
        if abs(c[0] - c0[0] - want) <= tol or time.monotonic() > end:
            return out, [x - x0 for x, x0 in zip(c, c0)], time.monotonic() - t
        time.sleep(0.2)

def set_prob(p):
    with open(prob, "w") as f:
        f.write(p)

def writes():
    return [cmd(0x01, b, 1, True) for b in range(first, first + n)]

def failing():
    set_prob("100")
    try:
        return writes()
    finally:
        set_prob("0")

st, (net1, all1, alloc1), t1 = step(0, failing)
failed = sum(1 for s in st if s > 0 and s & 0x7ff == 6)
other = sum(1 for s in st if s != 0) - failed
st, (net2, all2, _), t2 = step(n, writes)
wz, (net3, all3, _), t3 = step(-n, lambda: cmd(0x08, first, n, False))  # deallocates
print(failed, other, alloc1, net1, st.count(0), net2, wz, net3,
      "%d/%d/%d %.0f/%.0f/%.0f" % (all1, all2, all3, t1, t2, t3))
PY
) || fail "leak check writes: $res"
read -r failed other allocated net1 ok net2 wz net3 all secs <<<"$res"
[ -n "$secs" ] || fail "leak check: $res"
injected=$((100000 - $(cat "$dbg/failslab/times")))
msg "$failed writes allocated a page that the index could not take ($injected node allocations failed, pgalloc +$allocated): bare pages in use moved by $net1; $ok writes without injection: $net2; Write Zeroes over them: $net3 (tolerance $TOL; all pages in use: $all; seconds: $secs)"
[ "$other" = 0 ] || fail "$other writes failed with another status than Internal Error"
[ "$failed" -ge "$MIN_FAILED" ] || fail "only $failed of $NFI writes failed their insert: the check would mean little"
[ "$injected" -ge "$failed" ] || fail "$failed writes failed but only $injected allocations were failed"
[ "$allocated" -ge "$failed" ] || fail "pgalloc rose by $allocated, less than the $failed pages allocated"
[ "$net1" -le "$TOL" ] && [ "$net1" -ge "-$TOL" ] ||
	fail "pages in use moved by $net1 over $failed failed inserts: their pages leaked"
[ "$ok" = "$NFI" ] || fail "$ok of $NFI writes succeeded without injection"
[ "$net2" -ge $((NFI - TOL)) ] && [ "$net2" -le $((NFI + TOL)) ] ||
	fail "pages in use moved by $net2 over $NFI writes of new pages: the count does not see them"
[ "$wz" = 0 ] || fail "Write Zeroes: status $wz"
[ "$net3" -le $((TOL - NFI)) ] && [ "$net3" -ge $((-TOL - NFI)) ] ||
	fail "pages in use moved by $net3 when $NFI pages were deallocated: they were not freed"
[ "$(cat "$MEMCFS/fi0/allocated")" = "$held" ] ||
	fail "allocated: $(cat "$MEMCFS/fi0/allocated") bytes, expected $held"
