#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Races under I/O, each looped with fio running against a mem namespace:
# namespace disable/enable, port removal and re-adding, host disconnect and
# reconnect, rmmod attempts, two hosts (loop and tcp) writing overlapping
# ranges through two controllers, and the memory cap reached under load.
# Nothing may hang, crash or leak; the harness checks the kernel log.
#   mem_races.sh [ITERATIONS]   (default 10)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
iters=${1:-10}
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj race0 64M
new_subsys testnqn.race
new_ns testnqn.race 1
mem_ns testnqn.race 1 race0
ns=$CFS/subsystems/testnqn.race/namespaces/1
export_loop testnqn.race 91

# fio that keeps going through errors, in the background, in a session of
# its own so that stop_fio can end its job processes too; FIO_PID
bg_fio() { # DEV RW [extra fio args]
	local dev=$1 rw=$2
	shift 2
	setsid fio --name=race --filename="$dev" --rw="$rw" --bs=4k --iodepth=8 \
	    --ioengine=io_uring --direct=1 --time_based --runtime=600 \
	    --size=64M --continue_on_error=all "$@" \
	    --output=/dev/null >/dev/null 2>&1 &
	FIO_PID=$!
	cleanup_add "kill -9 -- -$FIO_PID"
}
stop_fio() {
	local i
	kill -- -"$FIO_PID" 2>/dev/null
	for i in $(seq 1 60); do
		kill -0 -- -"$FIO_PID" 2>/dev/null || return 0
		sleep 1
	done
	fail "$1: fio does not stop"
}
total=0

connect_loop testnqn.race
bg_fio "$DEV" randrw
for i in $(seq 1 "$iters"); do
	write_attr "$ns/enable" 0 || fail "disable $i"
	sleep 0.3
	write_attr "$ns/enable" 1 || fail "enable $i"
	sleep 0.5
done
total=$((total + iters))
msg "$iters namespace disable/enable cycles under fio"
for i in $(seq 1 "$iters"); do
	expect_errno EBUSY rmmod nvmet_mem
done
total=$((total + iters))
msg "$iters rmmod attempts refused under fio"
stop_fio "disable/enable"
nvme disconnect -n testnqn.race >/dev/null

# port removal and re-adding: the host loses the controller each time
for i in $(seq 1 "$iters"); do
	connect_loop testnqn.race
	bg_fio "$DEV" randwrite
	sleep 1
	rm "$CFS/ports/91/subsystems/testnqn.race" || fail "unlink port $i"
	stop_fio "port removal $i"
	nvme disconnect -n testnqn.race >/dev/null 2>&1
	ln -s "$CFS/subsystems/testnqn.race" "$CFS/ports/91/subsystems/testnqn.race" ||
		fail "relink port $i"
done
total=$((total + iters))
msg "$iters port removals under fio"

# host disconnect under I/O
for i in $(seq 1 "$iters"); do
	connect_loop testnqn.race
	bg_fio "$DEV" randrw
	sleep 1
	nvme disconnect -n testnqn.race >/dev/null || fail "disconnect $i"
	stop_fio "disconnect $i"
done
total=$((total + iters))
msg "$iters host disconnects under fio"

# two hosts, loop and tcp, overlapping writes through two controllers
! pgrep -x fio >/dev/null || fail "a fio from the loops above is still running"
# every controller of the subsystem gone first, so that exactly one loop
# and one tcp controller serve the phase
nvme disconnect -n testnqn.race >/dev/null 2>&1
for c in /sys/class/nvme/nvme*; do
	[ "$(cat "$c/subsysnqn" 2>/dev/null)" = testnqn.race ] &&
		fail "controller $(basename "$c") ($(cat "$c/transport") $(cat "$c/state")) left over"
done
export_port tcp testnqn.race 92
connect_loop testnqn.race
dev_of testnqn.race loop 1
dev_loop=$DEV
connect_port tcp testnqn.race 92
dev_of testnqn.race tcp 1
dev_tcp=$DEV
[ "$dev_loop" != "$dev_tcp" ] || fail "one device for two controllers"
fio --name=a --filename="$dev_loop" --rw=randwrite --bs=4k --iodepth=8 \
    --ioengine=io_uring --direct=1 --size=16M --io_size=8M \
    --output=/dev/null >/dev/null 2>&1 & pa=$!
fio --name=b --filename="$dev_tcp" --rw=randwrite --bs=16k --iodepth=8 \
    --ioengine=io_uring --direct=1 --size=16M --io_size=8M \
    --output=/dev/null >/dev/null 2>&1 & pb=$!
wait $pa || fail "loop host fio failed"
wait $pb || fail "tcp host fio failed"
# Coherence across the two controllers, checked with passthrough commands:
# the guest's host kernel has no NVMe multipath, and without it the block
# devices of a namespace shared by two controllers are unsupported ("Shared
# namespace support requires core_nvme.multipath=Y"): a block device read
# there is no statement about the target. Passthrough I/O goes straight to
# each controller.
ctl_loop=/dev/$(basename "$(readlink -f "/sys/block/${dev_loop#/dev/}/device")")
ctl_tcp=/dev/$(basename "$(readlink -f "/sys/block/${dev_tcp#/dev/}/device")")
pat=$(mktemp) back=$(mktemp)
cleanup_add "rm -f '$pat' '$back'"
for dir in "$ctl_loop $ctl_tcp" "$ctl_tcp $ctl_loop"; do
	set -- $dir
	for lba in 0 1000 20000; do
		head -c 65536 /dev/urandom >"$pat"
		nvme write "$1" -n 1 -s "$lba" -c 127 -z 65536 -d "$pat" >/dev/null 2>&1 ||
			fail "passthrough write via $1"
		nvme read "$2" -n 1 -s "$lba" -c 127 -z 65536 -d "$back" >/dev/null 2>&1 ||
			fail "passthrough read via $2"
		cmp -s "$pat" "$back" || fail "LBA $lba written via $1 reads differently via $2"
	done
done
total=$((total + 1))
msg "loop and tcp hosts wrote overlapping ranges; data written through each controller reads back through the other"
nvme disconnect -n testnqn.race >/dev/null

# the memory cap reached under load
write_attr "$ns/enable" 0
write_attr "$MEMCFS/race0/max_memory" 0
echo 2 >/proc/sys/vm/drop_caches
new_mem_obj cap0 64M
write_attr "$MEMCFS/cap0/max_memory" 4M
new_subsys testnqn.cap
new_ns testnqn.cap 1
mem_ns testnqn.cap 1 cap0
# nvme-loop hosts connect through the first loop port: reuse it
ln -s "$CFS/subsystems/testnqn.cap" "$CFS/ports/91/subsystems/testnqn.cap" || fail "link cap"
cleanup_add "rm -f '$CFS/ports/91/subsystems/testnqn.cap'"
connect_loop testnqn.cap
dd if=/dev/urandom of="$DEV" bs=1M count=2 oflag=direct status=none || fail "write under cap"
out=$(mktemp)
cleanup_add "rm -f '$out'"
if fio --name=cap --filename="$DEV" --rw=write --bs=64k --iodepth=8 --ioengine=io_uring \
	--direct=1 --size=32M --offset=8M --output="$out" >/dev/null 2>&1; then
	fail "writes beyond the cap succeeded"
fi
[ "$(cat "$MEMCFS/cap0/allocated")" -le $((4 << 20)) ] || fail "cap exceeded"
dd if="$DEV" of=/dev/null bs=1M count=64 iflag=direct status=none || fail "reads stopped working at the cap"
nvme write "$DEV" -s 40000 -c 0 -z 512 -d /dev/zero >"$out" 2>&1 && fail "passthrough write beyond cap succeeded"
grep -qi "capacity" "$out" || { cat "$out"; fail "not Capacity Exceeded"; }
if dmesg | grep -q "Out of memory"; then fail "OOM killer ran"; fi
total=$((total + 1))
msg "cap reached under load: writes fail with Capacity Exceeded, reads work, no OOM"
msg "$total race iterations"
