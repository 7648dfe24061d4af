#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A no-data namespace read over a fabric returns zeroes, never the
# target's memory: over tcp and rdma the read's data buffer is allocated on
# the target, and in no-data mode nothing is copied into it. The marker is
# planted where such a buffer comes from: a second namespace of the same
# controller (a normal object) holds 4 MiB of it, and reading that back
# just before, from the same CPU (so over the same queue, whose target
# side frees its buffers into one CPU's page lists), leaves the target's
# freed read buffers full of it. The marker is new for each run, so that
# pages left over from an earlier test cannot count. (Memory freed by a process, which this
# test used to plant in, does not come back as these buffers: the page
# allocator hands out smaller free blocks first.)
# Positive control first, so that the check cannot pass for want of a
# marker: with the module's debug-only test hook debug_nodata_unzeroed set
# (the same read path, the buffer not zeroed), 16 MiB read from the no-data
# namespace after planting must bring the marker to the host. Then, with
# the hook cleared and the marker planted again, 64 MiB read from it must
# be all zeroes. A kernel without CONFIG_FAULT_INJECTION_DEBUG_FS (the plain
# kernel) has no hook: the control is skipped and the real check runs
# alone; a kernel with the option but a module without the hook fails.
#   mem_nodata_leak.sh TRANSPORT   (tcp, rdma)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
tr=${1:?usage: mem_nodata_leak.sh TRANSPORT}
load_mem
hook=$MEMCFS/debug_nodata_unzeroed
new_mem_obj ndl0 64M
write_attr "$MEMCFS/ndl0/nodata" 1 || fail "nodata 1"
new_mem_obj ndl1 4M
nqn=testnqn.ndleak.$tr
new_subsys $nqn
new_ns $nqn 1
mem_ns $nqn 1 ndl0
new_ns $nqn 2
mem_ns $nqn 2 ndl1
export_port "$tr" $nqn 161
connect_port "$tr" $nqn 161
dev_of $nqn "$tr" 2
mdev=$DEV
dev_of $nqn "$tr" 1
out=$(mktemp) mark=$(mktemp)
cleanup_add "rm -f '$out' '$mark'"
marker=NVMLEAK-$(printf '%04x%04x' $RANDOM $RANDOM)
python3 -c '
import sys
open(sys.argv[1], "wb").write(sys.argv[2].encode() * (1 << 18))
' "$mark" "$marker" || fail "making the marker"
dd if="$mark" of="$mdev" bs=1M oflag=direct status=none || fail "writing the marker to $mdev"

# plant: read the marker back over the queue of CPU 0, which the reads of
# the no-data namespace below use too
plant() {
	taskset -c 0 dd if="$mdev" of=/dev/null bs=1M count=4 iflag=direct status=none ||
		fail "reading the marker from $mdev"
}

# scan FILE: "PAGES NONZERO MARKED", the 4 KiB pages of FILE, those not
# all zero and those that hold this run's marker
scan() {
	python3 -c '
import sys
d, m = open(sys.argv[1], "rb").read(), sys.argv[2].encode()
pages = [d[i:i + 4096] for i in range(0, len(d), 4096)]
print(len(pages), sum(1 for p in pages if p.count(0) != 4096),
      sum(1 for p in pages if m in p))
' "$1" "$marker"
}

if [ -e "$hook" ]; then
	cleanup_add "echo 0 > '$hook'"
	write_attr "$hook" 1 || fail "debug_nodata_unzeroed 1"
	plant
	taskset -c 0 dd if="$DEV" of="$out" bs=1M count=16 iflag=direct status=none ||
		fail "control read"
	write_attr "$hook" 0 || fail "debug_nodata_unzeroed 0"
	read -r pages nonzero marked < <(scan "$out")
	[ -n "$marked" ] || fail "scanning the control read"
	msg "control (zeroing skipped): $marked of $pages pages read over $tr carry the marker, $nonzero are not zero"
	[ "$marked" -gt 0 ] ||
		fail "control: no marker reached the host with the zeroing skipped: the check below could not see a leak"
elif gzip -dc /proc/config.gz 2>/dev/null | grep -qx CONFIG_FAULT_INJECTION_DEBUG_FS=y; then
	fail "no $hook on a kernel with CONFIG_FAULT_INJECTION_DEBUG_FS: the positive control cannot run"
else
	msg "no debug_nodata_unzeroed (kernel without CONFIG_FAULT_INJECTION_DEBUG_FS): positive control skipped"
fi

plant
taskset -c 0 dd if="$DEV" of="$out" bs=1M count=64 iflag=direct status=none || fail "read"
read -r pages nonzero marked < <(scan "$out")
[ -n "$nonzero" ] || fail "scanning the read"
[ "$nonzero" -eq 0 ] ||
	fail "$nonzero of $pages pages read over $tr are not zero ($marked carry the marker): target memory reached the host"
msg "64 MiB read from a no-data namespace over $tr: all zeroes"
