#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Writers racing for the last page under max_memory: none of them may fail
# with Capacity Exceeded while the page they need is being allocated by
# another. An object capped at two pages holds page 0; fio writes page 1
# from a queue of 8 while another job deallocates it again and again, so
# every write after a deallocation races the others to allocate the same
# page (over nvme-loop they are deferred to nvmet_wq and run on both
# vCPUs). Only page 1 is ever allocated and it always fits, so every
# write must succeed and the object never holds more than two pages.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj cap0 1M 4096
write_attr "$MEMCFS/cap0/max_memory" 8K || fail "max_memory 8K"
new_subsys testnqn.cap
new_ns testnqn.cap 1
mem_ns testnqn.cap 1 cap0
export_loop testnqn.cap 141
connect_loop testnqn.cap
dd if=/dev/urandom of="$DEV" bs=4k count=1 oflag=direct status=none || fail "write page 0"
out=$(mktemp)
cleanup_add "rm -f '$out'"
fio --output-format=json --output="$out" --filename="$DEV" --direct=1 \
	--ioengine=io_uring --offset=4096 --size=4096 --bs=4k --continue_on_error=all \
	--time_based --runtime=20 \
	--name=writers --rw=randwrite --norandommap --iodepth=8 \
	--iodepth_batch_submit=8 --iodepth_batch_complete_min=8 \
	--name=deallocate --ioengine=psync --rw=trim --thinktime=200 >/dev/null 2>&1
# (fio's exit status says whether an I/O failed: the JSON says which)
jobs=$(fio_jobs "$out") || fail "fio wrote no results"
read -r _ werr wfails writes <<<"$(grep '^writers ' <<<"$jobs")"
read -r _ _ tfails trims <<<"$(grep '^deallocate ' <<<"$jobs")"
# (fio stops a job at its first ENOSPC, continue_on_error or not)
[ "${wfails:-1}" = 0 ] ||
	fail "$wfails of $writes writes failed (error $werr) racing for the last page under the cap"
[ "${writes:-0}" -gt 1000 ] && [ "${trims:-0}" -gt 100 ] ||
	fail "fio did $writes writes and $trims deallocations: too few races to show anything"
[ "$tfails" = 0 ] || fail "$tfails of $trims deallocations failed"
used=$(cat "$MEMCFS/cap0/allocated")
[ "$used" -le 8192 ] || fail "the object holds $used bytes, above its 8 KiB cap"
msg "$writes writes racing $trims deallocations of the last page under the cap: none failed"
