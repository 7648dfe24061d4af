#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tearing a mem namespace down while fio runs on it completes. Three times,
# disabling the namespace under a fio random reader/writer, then removing
# the port's link, disabling and removing the namespace and removing the
# memory object under a fio writer. Each action happens under I/O: fio
# still runs right before it and the object's read/write byte counters
# move in the interval just before it (fio's runtime is far longer than
# the test waits). Afterwards fio has ended (nothing hangs) with a non-zero
# exit status, its job reports an error (the namespace went away under it)
# and I/Os before it, and the kernel log stays free of reports (checked by
# the harness).
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj live0 64M
new_subsys testnqn.live
new_ns testnqn.live 1
mem_ns testnqn.live 1 live0
export_loop testnqn.live 61
connect_loop testnqn.live
ctrl=/sys/class/nvme/$(basename "$(readlink -f "/sys/block/${DEV#/dev/}/device")")
ns=$CFS/subsystems/testnqn.live/namespaces/1
d=$(mktemp -d)
cleanup_add "rm -rf '$d'"

# start_fio NAME RW: fio on $DEV in the background (pid in fio_pid); it
# runs until the test ends it, its JSON in $d/NAME.json
start_fio() {
	[ -b "$DEV" ] || fail "$DEV is not a block device"
	fio --name="$1" --filename="$DEV" --allow_file_create=0 --rw="$2" --bs=4k --iodepth=16 \
	    --ioengine=io_uring --direct=1 --time_based --runtime=600 --size=64M \
	    --output-format=json --output="$d/$1.json" >"$d/$1.out" 2>"$d/$1.err" &
	fio_pid=$!
	cleanup_add "kill -9 $fio_pid 2>/dev/null"
}

# fio_ended_with_error NAME WHAT: fio (fio_pid) ends, with an error
fio_ended_with_error() {
	local rc job name err errs ios
	wait_gone $fio_pid 120 || { kill -9 $fio_pid; fail "$2: fio hangs"; }
	wait $fio_pid
	rc=$?
	job=$(fio_jobs "$d/$1.json") ||
		fail "$2: no JSON from fio (exit status $rc): $(head -c 300 "$d/$1.json" "$d/$1.err" | tr '\n' ' ')"
	read -r name err errs ios <<<"$job"
	[ "$rc" -ne 0 ] || fail "$2: fio exited 0 (job: $job)"
	[ "$errs" -ge 1 ] && [ "$err" -ne 0 ] ||
		fail "$2: fio's job $name reports no error (job: $job, exit status $rc)"
	[ "$ios" -gt 0 ] || fail "$2: fio's job $name did no I/O (job: $job)"
	msg "$2: fio exit status $rc, job $name error $err after $ios I/Os: $(grep -m1 'error' "$d/$1.err")"
}

for round in 1 2 3; do
	start_fio rw$round randrw
	expect_io_moving live0 $fio_pid read_bytes write_bytes
	write_attr "$ns/enable" 0 || fail "round $round: disable under I/O"
	msg "round $round: disabled while fio ran ($IO_MOVED bytes in the last interval)"
	# nvmet now fails commands to the namespace; fio stops on the error
	fio_ended_with_error rw$round "round $round"
	# The host drops the namespace on the target's event, and adds it
	# again on the next one, under a name found anew: fio must not write
	# to a stale node (nor create a regular file in its place).
	deadline=$((SECONDS + 60))
	while DEV= && find_dev testnqn.live; do
		[ $SECONDS -lt $deadline ] || fail "round $round: the host keeps the disabled namespace as $DEV"
		sleep 0.2
	done
	write_attr "$ns/enable" 1 || fail "round $round: re-enable"
	# nvmet_ns_enable() sends the event before it marks the namespace
	# enabled: a host scan in between fails Identify with Internal Path
	# Error and adds nothing. Rescan if the namespace does not come back.
	deadline=$((SECONDS + 60)) rescan=$((SECONDS + 10))
	until DEV= && find_dev testnqn.live &&
		dd if="$DEV" of=/dev/null bs=4k count=1 iflag=direct status=none 2>"$d/dd.err"; do
		[ $SECONDS -lt $deadline ] ||
			fail "round $round: the namespace did not come back: DEV '$DEV', $(cat "$d/dd.err"), /sys/block: $(ls /sys/block | tr '\n' ' ')"
		if [ $SECONDS -ge $rescan ]; then
			msg "round $round: no namespace 10 s after enabling it, rescanning"
			write_attr "$ctrl/rescan_controller" 1
			rescan=$((SECONDS + 10))
		fi
		sleep 0.2
	done
	msg "round $round: re-enabled, $DEV back"
done
start_fio w randwrite
expect_io_moving live0 $fio_pid write_bytes
rm "$CFS/ports/61/subsystems/testnqn.live"
write_attr "$ns/enable" 0
rmdir "$ns" || fail "rmdir namespace under I/O"
rmdir "$MEMCFS/live0" || fail "rmdir object under I/O"
msg "port link, namespace and object removed while fio ran ($IO_MOVED bytes in the last interval)"
fio_ended_with_error w "removal"
