#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A host cannot drive the target into the OOM killer. Two uncapped objects
# of 60% of RAM each, served over nvme-tcp, filled by the host until writes
# fail: the writes that find no memory complete with Capacity Exceeded
# (the host sees ENOSPC) once memory falls to the reserve
# (/sys/kernel/config/nvmet_mem/reserve_memory), the error is in the Error
# Information log with its LBA and NLB as the location, nothing is killed,
# and the target keeps serving: reads of what was written, overwrites of
# allocated blocks, and new writes once a deallocation gave memory back.
# To keep the run short, a tmpfs file first takes all but ~256 MiB of the
# memory above the reserve, so the host writes a few hundred MiB, not GiB,
# before it reaches the floor; the objects still promise 120% of RAM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
load_mem
reserve=$(cat "$MEMCFS/reserve_memory") || fail "no reserve_memory"
ram=$(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) << 10))
[ "$reserve" -ge $((ram / 16 - 4096)) ] || fail "default reserve $reserve below 1/16 of $ram"
obj=$(((ram * 6 / 10) >> 20))M
msg "RAM $((ram >> 20)) MiB, two objects of $obj, reserve $((reserve >> 20)) MiB"
nqn=testnqn.oom
new_subsys $nqn
for i in 1 2; do
	new_mem_obj "oom$i" "$obj" 4096
	new_ns $nqn $i
	mem_ns $nqn $i "oom$i"
done
export_port tcp $nqn 171
connect_port tcp $nqn 171
dev_of $nqn tcp 1; dev1=$DEV
dev_of $nqn tcp 2; dev2=$DEV
ctl=/dev/$(basename "$(readlink -f "/sys/block/${dev1#/dev/}/device")")
pat=$(mktemp) back=$(mktemp) out=$(mktemp)
cleanup_add "rm -f '$pat' '$back' '$out'"
head -c $((4 << 20)) /dev/urandom >"$pat"
dd if="$pat" of="$dev1" bs=1M oflag=direct status=none || fail "first write"
meminfo() { echo $(($(sed -n "s/^$1: *\([0-9]*\) kB/\1/p" /proc/meminfo) << 10)); }
fill=$(mktemp -d)
mount -t tmpfs -o size=$((ram >> 20))M none "$fill" || fail "mount tmpfs"
cleanup_add "rm -f '$fill/f'; umount '$fill'; rmdir '$fill'"
take=$((($(meminfo MemAvailable) - reserve - (256 << 20)) >> 20))
[ $take -le 0 ] || dd if=/dev/zero of="$fill/f" bs=1M count=$take status=none ||
	fail "filling tmpfs with $take MiB"
msg "tmpfs holds $((take > 0 ? take : 0)) MiB; MemAvailable $(($(meminfo MemAvailable) >> 20)) MiB"
log_mark
full=0 mib=$(($(blockdev --getsize64 "$dev1") >> 20))
for dev in "$dev1" "$dev2"; do
	# 1 MiB writes from the start (dev1: after the pattern) to the end
	skip=0
	[ "$dev" = "$dev1" ] && skip=4
	if dd if=/dev/zero of="$dev" bs=1M seek=$skip count=$((mib - skip)) \
		oflag=direct status=none 2>"$out"; then
		msg "$dev filled to its end"
		continue
	fi
	grep -q "No space left" "$out" || { cat "$out"; fail "write to $dev failed but not with ENOSPC"; }
	full=1
	msg "$dev: $(head -n 1 "$out")"
	break
done
[ $full -eq 1 ] || fail "objects of 120% of RAM filled without an error"
used=$(($(cat "$MEMCFS/oom1/allocated") + $(cat "$MEMCFS/oom2/allocated")))
avail=$(meminfo MemAvailable)
msg "stored $((used >> 20)) MiB; MemAvailable $((avail >> 20)) MiB, reserve $((reserve >> 20)) MiB"
# the floor held: the store stopped within a few pages of the reserve
[ "$avail" -ge $((reserve - (16 << 20))) ] || fail "MemAvailable went below the reserve"
if log_since | grep -qiE "out of memory|oom-kill|invoked oom"; then
	log_since | grep -iE "out of memory|oom" | head -5
	fail "the OOM killer ran"
fi
# the status, from a passthrough write of two blocks that need new pages
# (dev2 holds nothing: dev1 ran out first). Memory that the host side frees
# once dd stops (its buffers, socket memory) lifts MemAvailable a little
# above the reserve again; to see the status for sure, raise the reserve
# above what is available now.
[ "$(cat "$MEMCFS/oom2/allocated")" -eq 0 ] || fail "dev2 was written to"
cleanup_add "echo $reserve > '$MEMCFS/reserve_memory'"
write_attr "$MEMCFS/reserve_memory" $(($(meminfo MemAvailable) + (64 << 20))) ||
	fail "raising reserve_memory"
# A page that a deallocation has just retired is on its way back (freed a
# grace period later): the refused write counts it as available instead of
# waiting for it with rcu_barrier(), whose mutex lock statistics count
# (debug kernel). One page does not lift it above the raised reserve.
blkdiscard -o $((8 << 20)) -l 4096 "$dev1" || fail "deallocating one block"
barriers() { awk '$1 ~ /^&?rcu_state\.barrier_mutex:$/ { a += $9 } END { print a + 0 }' /proc/lock_stat; }
if [ -e /proc/lock_stat ]; then
	cleanup_add "echo $(cat /proc/sys/kernel/lock_stat) >/proc/sys/kernel/lock_stat"
	echo 1 >/proc/sys/kernel/lock_stat || fail "cannot enable lock statistics"
	echo 0 >/proc/lock_stat
fi
lba=$(($(blockdev --getsize64 "$dev2") / 4096 - 2))
nvme write "$dev2" -s $lba -c 1 -z 8192 -d "$pat" >"$out" 2>&1 &&
	fail "a write needing a page succeeded below the reserve"
if [ -e /proc/lock_stat ]; then
	n=$(barriers)
	[ "$n" -eq 0 ] || fail "the refused write waited for retired pages: rcu_barrier() $n times"
	msg "the refused write did not wait for the retired page (rcu_barrier() 0 times)"
else
	msg "no /proc/lock_stat (CONFIG_LOCK_STAT): rcu_barrier() not counted"
fi
write_attr "$MEMCFS/reserve_memory" "$reserve" || fail "restoring reserve_memory"
[ "$(cat "$MEMCFS/reserve_memory")" = "$reserve" ] || fail "reserve_memory did not read back"
grep -qi "capacity" "$out" || { cat "$out"; fail "not Capacity Exceeded"; }
nvme error-log "$ctl" -e 16 >"$out" 2>&1 || fail "error-log"
# nvme-cli prints the entry's status without the phase tag; the newest
# entry comes first
entry=$(grep -A4 -E "^status_field[[:space:]]*: 0x(4081|81)\(" "$out" | head -n 5)
[ -n "$entry" ] || { head -30 "$out"; fail "no Capacity Exceeded in the error log"; }
grep -qE "^parm_err_loc[[:space:]]*: 0x30\$" <<<"$entry" ||
	{ echo "$entry"; fail "error log: the location of Capacity Exceeded is not NLB"; }
grep -qE "^lba[[:space:]]*: (0x$(printf '%x' $lba)|$lba)\$" <<<"$entry" ||
	{ echo "$entry"; fail "error log: not the LBA of the first block not written ($lba)"; }
msg "Capacity Exceeded, located at NLB in the error log"
# still serving: reads, overwrites, and writes after a deallocation
dd if="$dev1" of="$back" bs=1M count=4 iflag=direct status=none || fail "read after exhaustion"
cmp -s "$pat" "$back" || fail "data read back after exhaustion differs"
dd if="$pat" of="$dev1" bs=1M count=4 oflag=direct status=none || fail "overwrite after exhaustion"
blkdiscard -o $((4 << 20)) "$dev1" || fail "deallocate"
[ "$(cat "$MEMCFS/oom1/allocated")" -eq $((4 << 20)) ] || fail "deallocate left pages"
dd if=/dev/zero of="$dev2" bs=1M count=64 oflag=direct status=none || fail "write after deallocation"
if log_since | grep -qiE "out of memory|oom-kill|invoked oom"; then fail "the OOM killer ran"; fi
msg "reads, overwrites and writes after a deallocation work; no OOM kill"
