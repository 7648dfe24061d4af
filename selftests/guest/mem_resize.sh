#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Online resize over nvme-loop: the object's size changes while the
# namespace is enabled and the host connected; after the namespace's
# revalidate_size, nvmet sends a Namespace Attribute Changed event and the
# host's block device takes the new size without reconnecting. Growing
# reads zeroes beyond the old end, shrinking drops the data beyond the new
# end (a shrink and a grow back read zeroes there), and the data below
# stays intact. Also under a writer (fio jobs below and above the new end,
# checked to be running and writing right before each shrink): writes
# below the new end never fail, writes beyond it fail while it is shrunk,
# and no page stays beyond the end.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj rs0 64M 4096
new_subsys testnqn.rs
new_ns testnqn.rs 1
mem_ns testnqn.rs 1 rs0
export_loop testnqn.rs 95
connect_loop testnqn.rs
o=$MEMCFS/rs0
ns=$CFS/subsystems/testnqn.rs/namespaces/1
# resize SIZE BYTES: set the object's size, revalidate, wait for the host
resize() {
	local i
	write_attr "$o/size" "$1" || fail "size $1 while enabled"
	write_attr "$ns/revalidate_size" 1 || fail "revalidate_size"
	for i in $(seq 1 100); do
		[ "$(blockdev --getsize64 "$DEV")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "host sees $(blockdev --getsize64 "$DEV") bytes, expected $2 after size $1"
}
pat=$(mktemp) back=$(mktemp)
cleanup_add "rm -f '$pat' '$back'"
head -c 64M /dev/urandom >"$pat"
dd if="$pat" of="$DEV" bs=1M oflag=direct status=none || fail "fill 64 MiB"

resize 128M $((128 << 20))
dd if="$DEV" of="$back" bs=1M skip=64 count=64 iflag=direct status=none || fail "read the new part"
cmp -s "$back" <(head -c 64M /dev/zero) || fail "grown part is not zeroes"
cmp -s "$pat" <(head -c 64M "$DEV") || fail "data below the old end changed"
msg "grown to 128 MiB online: new part reads zeroes, old data intact"

resize 24M $((24 << 20))
nvme read "$DEV" --start-block=6144 --block-count=0 --data-size=4096 >/dev/null 2>&1 &&
	fail "a read beyond the new end succeeded"
[ "$(cat "$o/allocated")" = $((24 << 20)) ] || fail "allocated $(cat "$o/allocated") after shrinking to 24 MiB"
resize 64M $((64 << 20))
dd if="$DEV" of="$back" bs=1M skip=24 count=40 iflag=direct status=none || fail "read after growing back"
cmp -s "$back" <(head -c 40M /dev/zero) || fail "data beyond a shrink came back"
cmp -s <(head -c 24M "$pat") <(head -c 24M "$DEV") || fail "data below the shrink changed"
msg "shrunk to 24 MiB and grown back: the dropped part reads zeroes, the rest intact"

# Shrinks under a writer: fio writes at random in two jobs, "low" below
# the 16 MiB that the shrinks keep and "high" above them. The host is not
# told of the shrinks (no revalidate_size), so it goes on writing the whole
# 64 MiB. Each shrink happens while fio runs and write_commands move; once
# shrunk, high's writes fail (errors moves) before the size grows back.
# Afterwards high may have failed, low must not have failed once; no page
# stays beyond the end.
d=$(mktemp -d)
cleanup_add "rm -rf '$d'"
# fio stops when the trigger file appears (it runs 600 s otherwise); it
# leaves its verify state files in its working directory, $d. It goes on
# after EIO and EREMOTEIO (LBA Out of Range: BLK_STS_TARGET), the errors
# are counted; it never creates a file in place of $DEV.
(cd "$d" && exec fio --filename="$DEV" --allow_file_create=0 --rw=randwrite --bs=4k \
	--iodepth=16 --ioengine=libaio --direct=1 --continue_on_error=all --ignore_error=,EIO:121 \
	--time_based --runtime=600 --group_reporting=0 \
	--output-format=json --output="$d/fio.json" --trigger-file="$d/stop" \
	--name=low --offset=0 --size=16M --name=high --offset=16M --size=48M \
	>"$d/fio.out" 2>"$d/fio.err") &
fpid=$!
cleanup_add "kill -9 $fpid 2>/dev/null"
for i in 1 2 3; do
	expect_io_moving rs0 $fpid write_commands
	mem_stat_sum rs0 errors
	err0=$STAT_SUM
	write_attr "$o/size" 16M || fail "shrink under writes"
	# writes beyond the end fail now: wait for one (a hang guard only)
	end=$((SECONDS + 60))
	while mem_stat_sum rs0 errors && [ "$STAT_SUM" -le "$err0" ] && [ $SECONDS -le $end ]; do
		kill -0 $fpid 2>/dev/null || fail "fio ended during shrink $i: $(cat "$d/fio.err")"
		sleep 0.1
	done
	[ "$STAT_SUM" -gt "$err0" ] || fail "no write failed beyond the end after shrink $i"
	sleep 0.5
	write_attr "$o/size" 64M || fail "grow under writes"
	mem_stat_sum rs0 errors
	msg "shrink $i under fio ($IO_MOVED writes in the last interval), $((STAT_SUM - err0)) failed beyond the end"
done
expect_io_moving rs0 $fpid write_commands
write_attr "$o/size" 16M
touch "$d/stop"
wait_gone $fpid 120 || fail "fio did not stop"
wait $fpid
rc=$?
fjobs=$(fio_jobs "$d/fio.json") ||
	fail "no JSON from fio (exit status $rc): $(head -c 300 "$d/fio.json" "$d/fio.err" | tr '\n' ' ')"
msg "fio exit status $rc; name errno errors I/Os: $(echo $fjobs)"
read -r _ lerr lerrs lios <<<"$(grep '^low ' <<<"$fjobs")"
read -r _ herr herrs hios <<<"$(grep '^high ' <<<"$fjobs")"
[ -n "$lios" ] && [ -n "$hios" ] || fail "fio's JSON lacks a job: $(echo $fjobs)"
[ "$lerrs" -eq 0 ] && [ "$lerr" -eq 0 ] ||
	fail "writes below the new end failed: low $lerrs errors (errno $lerr)"
[ "$lios" -gt 0 ] || fail "fio's low job wrote nothing"
[ "$herrs" -gt 0 ] || fail "no write beyond the new end failed in fio's high job"
# fio's exit status counts jobs that end on an error
[ "$rc" -eq 0 ] || [ "$herr" -ne 0 ] || fail "fio exited $rc, and no job reports an error"
[ "$(cat "$o/allocated")" -le $((16 << 20)) ] || fail "allocated $(cat "$o/allocated") beyond a 16 MiB end"
write_attr "$o/size" 64M
write_attr "$ns/revalidate_size" 1
dd if="$DEV" of="$back" bs=1M skip=16 count=48 iflag=direct status=none || fail "read after the race"
cmp -s "$back" <(head -c 48M /dev/zero) || fail "data beyond a shrink under writes came back"
msg "3 shrinks under fio: $lios writes below the end, none failed; $herrs of $hios beyond it failed; nothing beyond the end, zeroes after growing"
