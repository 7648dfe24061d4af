#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Hosts that bypass the block layer: fio's io_uring_cmd engine
# (cmd_type=nvme) on the namespace's generic character device /dev/ngXnY,
# over nvme-loop and nvme-tcp. 8 MiB of random 4 KiB writes with crc32c
# verify headers go through the passthrough path and verify through it;
# then fio verifies the same blocks through the block device, so both
# paths see one store. Skipped if fio lacks io_uring_cmd.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
fio --enghelp 2>/dev/null | grep -qw io_uring_cmd || skip "fio has no io_uring_cmd engine"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj pt0 64M 4096

# ng_of DEV: the generic character device of block device DEV, created if
# the guest's /dev lacks it; in NG
ng_of() {
	local name d
	name=$(basename "$1" | sed 's/^nvme\([0-9]*\)n\([0-9]*\)$/ng\1n\2/')
	d=/sys/class/nvme-generic/$name
	[ -e "$d/dev" ] || return 1
	NG=/dev/$name
	rm -f "$NG"
	mknod "$NG" c "$(cut -d: -f1 "$d/dev")" "$(cut -d: -f2 "$d/dev")"
}

n=0
for tr in loop tcp; do
	n=$((n + 1))
	nqn=testnqn.pt$n
	new_subsys $nqn
	new_ns $nqn 1
	mem_ns $nqn 1 pt0
	export_port $tr $nqn $((60 + n))
	connect_port $tr $nqn $((60 + n))
	ng_of "$DEV" || fail "no generic device for $DEV"
	job=(--name=pt --rw=randwrite --bs=4k --size=8M --offset=$(((n - 1) * 8))M
		--verify=crc32c --verify_fatal=1 --randrepeat=1)
	out=$(fio "${job[@]}" --filename="$NG" --ioengine=io_uring_cmd --cmd_type=nvme \
		--iodepth=16 --do_verify=1 2>&1) || { echo "$out" | tail -n 5 | sed 's/^/# /'; fail "$tr: fio io_uring_cmd on $NG"; }
	out=$(fio "${job[@]}" --filename="$DEV" --ioengine=psync --direct=1 --verify_only=1 2>&1) ||
		{ echo "$out" | tail -n 5 | sed 's/^/# /'; fail "$tr: data written through $NG does not verify through $DEV"; }
	msg "$tr: 8 MiB written and verified through $NG (io_uring_cmd), verified again through $DEV"
	nvme disconnect -n $nqn >/dev/null
	write_attr "$CFS/subsystems/$nqn/namespaces/1/enable" 0
done
