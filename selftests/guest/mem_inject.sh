#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Error injection and statistics, over nvme-loop. A rule under a memory
# object fails matching commands with its status: the host sees exactly
# that status (nvme-cli), the Error Information log has the LBA, a failed
# write stores nothing, a count and a probability limit how often it
# fires, a rule limited to some LBAs leaves the others alone, and an
# injected media error on a file's blocks reaches the application as EIO
# through ext4. Then the rule is removed and I/O is clean. The object's
# statistics match a known workload.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj inj0 64M 4096
new_subsys testnqn.inj
new_ns testnqn.inj 1
mem_ns testnqn.inj 1 inj0
export_loop testnqn.inj 81
connect_loop testnqn.inj
o=$MEMCFS/inj0
rule=$o/r0
mkdir "$rule" || fail "mkdir rule"
cleanup_add "rmdir '$rule'"

stat_of() { awk -v k="$1" '$1 == k { print $2 }' "$o/stats"; }
# nvme_io OP SLBA: one block with nvme-cli; prints the status nvme-cli reports
buf=$(mktemp)
cleanup_add "rm -f '$buf'"
head -c 4096 /dev/urandom >"$buf"
nvme_io() {
	nvme "$1" "$DEV" --start-block="$2" --block-count=0 --data-size=4096 \
		--data="$buf" 2>&1
}

# The statistics of a known workload: 64 writes and 64 reads of 64 KiB.
w0=$(stat_of write_commands) wb0=$(stat_of write_bytes) rb0=$(stat_of read_bytes)
a0=$(stat_of pages_allocated)
dd if=/dev/urandom of="$DEV" bs=64k count=64 oflag=direct status=none || fail "write 4 MiB"
dd if="$DEV" of=/dev/null bs=64k count=64 iflag=direct status=none || fail "read 4 MiB"
[ $(($(stat_of write_commands) - w0)) = 64 ] || fail "write_commands +$(($(stat_of write_commands) - w0)), expected 64"
[ $(($(stat_of write_bytes) - wb0)) = 4194304 ] || fail "write_bytes +$(($(stat_of write_bytes) - wb0))"
[ $(($(stat_of read_bytes) - rb0)) -ge 4194304 ] || fail "read_bytes +$(($(stat_of read_bytes) - rb0))"
[ $(($(stat_of pages_allocated) - a0)) = 1024 ] || fail "pages_allocated +$(($(stat_of pages_allocated) - a0))"
f0=$(stat_of pages_freed)
blkdiscard -o 0 -l 4M "$DEV" || fail "blkdiscard"
[ $(($(stat_of pages_freed) - f0)) = 1024 ] || fail "pages_freed +$(($(stat_of pages_freed) - f0))"
[ "$(stat_of errors)" = 0 ] || fail "errors $(stat_of errors) before any rule"
msg "stats: 64 writes, 4 MiB each way, 1024 pages allocated and freed"

# Reads of LBAs 100..109 fail with Unrecovered Read Error, DNR.
write_attr "$rule/commands" read
write_attr "$rule/lba_start" 100
write_attr "$rule/lba_count" 10
write_attr "$rule/status" 0x4281
write_attr "$rule/enable" 1 || fail "enable rule"
out=$(nvme_io read 105) && fail "read of LBA 105 succeeded: $out"
# (nvmet adds the More bit: the error log has an entry)
grep -qE "Unrecovered Read Error.*\(0x[46]281\)" <<<"$out" || fail "read of LBA 105: $out"
nvme_io read 99 >/dev/null || fail "read of LBA 99 (outside the rule) failed"
nvme_io read 110 >/dev/null || fail "read of LBA 110 (outside the rule) failed"
nvme_io write 105 >/dev/null || fail "write of LBA 105 (not a read) failed"
# the error log entry (newest first; nvme-cli prints the status without
# the phase tag): the status and the LBA
ctl=/dev/$(basename "$(readlink -f "/sys/block/${DEV#/dev/}/device")")
nvme error-log "$ctl" -e 1 >"$buf.log" 2>&1 || fail "error-log"
grep -qE "^status_field[[:space:]]*: 0x([46]281|281)\(" "$buf.log" &&
	grep -qE "^lba[[:space:]]*: (0x69|105)\$" "$buf.log" ||
	{ sed 's/^/# /' "$buf.log"; fail "error log: not 0x4281 at LBA 105"; }
rm -f "$buf.log"
[ "$(cat "$rule/hits")" = 1 ] || fail "hits $(cat "$rule/hits"), expected 1"
msg "read of LBA 105 failed with 0x4281, LBA 105 in the error log; 99 and 110 read"

# A failed write stores nothing; count limits the failures to the next 2.
write_attr "$rule/enable" 0
write_attr "$rule/commands" write
write_attr "$rule/status" 0x6         # Internal Error, retryable
write_attr "$rule/count" 2
write_attr "$rule/enable" 1
nvme_io read 105 >/dev/null || fail "read after the rule changed to writes"
cmp -s "$buf" <(nvme read "$DEV" --start-block=105 --block-count=0 --data-size=4096 2>/dev/null) ||
	fail "LBA 105 does not hold what was written"
head -c 4096 /dev/urandom >"$buf.new"
nvme write "$DEV" --start-block=105 --block-count=0 --data-size=4096 --data="$buf.new" >/dev/null 2>&1 &&
	fail "first write of the 2 succeeded"
cmp -s "$buf" <(nvme read "$DEV" --start-block=105 --block-count=0 --data-size=4096 2>/dev/null) ||
	fail "a failed write changed LBA 105"
nvme_io write 106 >/dev/null && fail "second write of the 2 succeeded"
nvme_io write 107 >/dev/null || fail "third write failed (count 2)"
[ "$(cat "$rule/count")" = 0 ] || fail "count reads $(cat "$rule/count") after 2 failures"
rm -f "$buf.new"
msg "a failed write stored nothing; count 2 failed exactly 2 writes"

# probability: 50 % of 100 writes fail, neither none nor all (the odds of
# fewer than 15 or more than 85 are below 1e-12)
write_attr "$rule/enable" 0
write_attr "$rule/count" -1
write_attr "$rule/lba_start" 0
write_attr "$rule/lba_count" 0
write_attr "$rule/status" 0x4006
write_attr "$rule/probability" 50
write_attr "$rule/enable" 1
h0=$(cat "$rule/hits")
failed=0
for i in $(seq 1 100); do
	nvme_io write $((200 + i)) >/dev/null || failed=$((failed + 1))
done
[ $((failed)) = $(($(cat "$rule/hits") - h0)) ] || fail "$failed failed, hits +$(($(cat "$rule/hits") - h0))"
[ $failed -ge 15 ] && [ $failed -le 85 ] || fail "$failed of 100 failed at 50 %"
write_attr "$rule/enable" 0
msg "probability 50: $failed of 100 writes failed"

# A file system on top: a media error on a file's blocks is EIO.
mnt=$(mktemp -d)
cleanup_add "rmdir '$mnt'"
mkfs.ext4 -q -F -b 4096 "$DEV" || fail "mkfs.ext4"
mount "$DEV" "$mnt" || fail "mount"
cleanup_add "umount '$mnt'"
head -c 1M /dev/urandom >"$mnt/victim"
cp "$mnt/victim" /tmp/victim.ref
sync
start=$(filefrag -v "$mnt/victim" | awk '$1 == "0:" { sub(/\.\..*/, "", $4); print $4 }')
[ -n "$start" ] || fail "no extent for the file"
echo 3 >/proc/sys/vm/drop_caches
write_attr "$rule/probability" 100
write_attr "$rule/commands" read
write_attr "$rule/lba_start" "$start"
write_attr "$rule/lba_count" 256
write_attr "$rule/status" 0x4281
write_attr "$rule/enable" 1
err=$(cat "$mnt/victim" 2>&1 >/dev/null) && fail "reading the file succeeded"
grep -q "Input/output error" <<<"$err" || fail "reading the file: $err"
write_attr "$rule/enable" 0
echo 3 >/proc/sys/vm/drop_caches
cmp "$mnt/victim" /tmp/victim.ref || fail "file differs once the rule is off"
rm -f /tmp/victim.ref
msg "ext4: an injected media error at block $start is EIO; the file reads back once the rule is off"

# removed: I/O clean, and the counters add up
umount "$mnt"
rmdir "$rule"
verify_io "$DEV" 8
inj=$(stat_of injected_errors)
[ "$inj" -ge 5 ] || fail "injected_errors $inj"
[ "$(stat_of errors)" -ge "$inj" ] || fail "errors $(stat_of errors) < injected $inj"
msg "rule removed, 8 MiB verified; injected_errors $inj, errors $(stat_of errors)"
