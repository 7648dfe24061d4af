#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Reads and overwrites of allocated pages take no lock of the store: the
# store's xarray lock (lock class nvmet_mem_pages) is counted with lock
# statistics (/proc/lock_stat, CONFIG_LOCK_STAT on the debug kernel) while
# the host reads and overwrites allocated blocks, over nvme-loop (inline,
# two jobs in parallel) and nvme-tcp; it must show no acquisition. First
# writes, which insert pages, must show some: the count can fail.
# The per-page writer lock of an overwrite is a bit in the page, not a
# lockdep lock, and is not counted here.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
[ -e /proc/lock_stat ] || skip "no /proc/lock_stat (CONFIG_LOCK_STAT)"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj lf0 16M 4096
new_subsys testnqn.lockfree
new_ns testnqn.lockfree 1
mem_ns testnqn.lockfree 1 lf0
n=1024 # 4 MiB, one command per block

echo 1 >/proc/sys/kernel/lock_stat || fail "cannot enable lock statistics"
# acq: acquisitions and contentions of the store's lock since the last clear
acq() { awk '$1 == "nvmet_mem_pages:" { a += $9; c += $3 } END { print a + 0, c + 0 }' /proc/lock_stat; }
clear() { echo 0 >/proc/lock_stat; }
# fio_rw RW: n blocks of 4 KiB at queue depth 8 from two jobs, each its half
fio_rw() {
	fio --name=lf --filename="$DEV" --rw="$1" --bs=4k --size=$((n * 4096 / 2)) \
	    --offset_increment=$((n * 4096 / 2)) --numjobs=2 --iodepth=8 \
	    --ioengine=io_uring --direct=1 --output=/dev/null || fail "fio $1"
}
port=150
for tr in loop tcp; do
	port=$((port + 1))
	export_port "$tr" testnqn.lockfree $port
	DEV=
	connect_port "$tr" testnqn.lockfree $port
	blkdiscard "$DEV" || fail "blkdiscard"
	clear
	fio_rw write
	read -r first first_c < <(acq)
	[ "$first" -ge "$n" ] || fail "$tr: first writes of $n pages took the store's lock $first times, expected >= $n"
	clear
	fio_rw randread
	read -r reads reads_c < <(acq)
	clear
	fio_rw randwrite
	read -r over over_c < <(acq)
	msg "$tr: store lock acquisitions (contentions): first writes $first ($first_c), reads $reads ($reads_c), overwrites $over ($over_c), $n blocks each"
	[ "$reads" -eq 0 ] || fail "$tr: reads took the store's lock $reads times"
	[ "$over" -eq 0 ] || fail "$tr: overwrites took the store's lock $over times"
	nvme disconnect -n testnqn.lockfree >/dev/null || fail "disconnect"
	rm -f "$CFS/ports/$port/subsystems/testnqn.lockfree"
done
