#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Store torture (store_torture.py): concurrent readers, writers,
# deallocators and Write Zeroes on the same few pages of a mem namespace,
# through several queues, over nvme-loop (where reads and overwrites run in
# the submitter's context, allocating writes are deferred) and nvme-tcp
# (process context), with 4096 and 512 byte blocks. Every block read must
# be whole. make check runs two of the four combinations (4096-byte blocks
# over loop, 512-byte blocks over tcp); make soak runs all four. Afterwards the namespace is freed and the object's page count
# must be back to zero once the host deallocated everything (the counter
# and the index agree; kmemleak checks the rest).
#   mem_torture.sh [SECONDS per run [all]]   (default 10, two runs)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
secs=${1:-10}
runs="4096:loop 512:tcp"
[ "${2:-}" != all ] || runs="4096:loop 4096:tcp 512:loop 512:tcp"
here=$(dirname "$0")
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
port=140
for bs in 4096 512; do
	obj=tort$bs
	new_mem_obj $obj 1M $bs
	nqn=testnqn.torture$bs
	new_subsys $nqn
	new_ns $nqn 1
	mem_ns $nqn 1 $obj
	for tr in loop tcp; do
		[[ " $runs " == *" $bs:$tr "* ]] || continue
		port=$((port + 1))
		export_port "$tr" "$nqn" $port
		DEV=
		connect_port "$tr" "$nqn" $port
		python3 "$here/store_torture.py" "$DEV" $bs "$secs" ||
			fail "torture over $tr, $bs byte blocks"
		# The run may end with its pages deallocated: write some, so that
		# freeing everything below frees something.
		dd if=/dev/urandom of="$DEV" bs=64k count=1 oflag=direct status=none ||
			fail "write to $DEV"
		[ "$(cat "$MEMCFS/$obj/allocated")" -gt 0 ] || fail "$obj: nothing allocated"
		blkdiscard "$DEV" || fail "blkdiscard $DEV"
		left=$(cat "$MEMCFS/$obj/allocated")
		[ "$left" -eq 0 ] || fail "$obj: $left bytes still allocated after deallocating all"
		nvme disconnect -n "$nqn" >/dev/null || fail "disconnect $nqn"
		rm -f "$CFS/ports/$port/subsystems/$nqn"
	done
done
msg "every block read was whole; all pages freed on deallocation"
