#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Allocation failures aimed at the module (fail_page_alloc and failslab,
# stack-trace filtered to nvmet_mem's text) while 256 writes run: every failed
# allocation reaches the host as an NVMe error status (Internal Error, not
# a hang or a crash), acknowledged writes read back intact once injection
# stops, failed ones leave nothing behind, and no page is leaked.
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
