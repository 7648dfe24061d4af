#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Tearing a mem namespace down while fio runs on it (disable, then rmdir of
# the namespace, then of the memory object) completes: fio sees errors and
# stops, nothing hangs, and the kernel log stays free of reports (checked
# by the harness).
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj live0 64M
new_subsys testnqn.live
new_ns testnqn.live 1
mem_ns testnqn.live 1 live0
export_loop testnqn.live 61
connect_loop testnqn.live
ns=$CFS/subsystems/testnqn.live/namespaces/1
for round in 1 2 3; do
	fio --name=live --filename="$DEV" --rw=randrw --bs=4k --iodepth=16 \
	    --ioengine=io_uring --direct=1 --time_based --runtime=12 \
	    --size=64M --output=/dev/null >/dev/null 2>&1 &
	fio_pid=$!
	sleep 3
	kill -0 $fio_pid 2>/dev/null || fail "round $round: fio did not start"
	write_attr "$ns/enable" 0 || fail "round $round: disable under I/O"
	# nvmet now fails commands to the namespace; fio stops on errors
	wait_gone $fio_pid 60 || fail "round $round: fio hangs after disable"
	wait $fio_pid 2>/dev/null
	write_attr "$ns/enable" 1 || fail "round $round: re-enable"
	msg "round $round: disabled under fio, fio ended, re-enabled"
done
fio --name=live --filename="$DEV" --rw=randwrite --bs=4k --iodepth=16 \
    --ioengine=io_uring --direct=1 --time_based --runtime=12 --size=64M \
    --output=/dev/null >/dev/null 2>&1 &
fio_pid=$!
sleep 3
rm "$CFS/ports/61/subsystems/testnqn.live"
write_attr "$ns/enable" 0
rmdir "$ns" || fail "rmdir namespace under I/O"
rmdir "$MEMCFS/live0" || fail "rmdir object under I/O"
wait_gone $fio_pid 120 || { kill -9 $fio_pid; fail "fio hangs after removal"; }
wait $fio_pid 2>/dev/null
msg "namespace and object removed under fio"
