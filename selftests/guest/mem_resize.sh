#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Online resize over nvme-loop: the object's size changes while the
# namespace is enabled and the host connected; after the namespace's
# revalidate_size, nvmet sends a Namespace Attribute Changed event and the
# host's block device takes the new size without reconnecting. Growing
# reads zeroes beyond the old end, shrinking drops the data beyond the new
# end (a shrink and a grow back read zeroes there), and the data below
# stays intact. Also under a writer: a shrink while writes run leaves no
# page beyond the end.
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

# shrink under a writer: pages never stay beyond the end
fio --name=w --filename="$DEV" --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio \
	--direct=1 --continue_on_error=all --time_based --runtime=60 --size=64M >/dev/null 2>&1 &
fpid=$!
cleanup_add "kill $fpid 2>/dev/null"
sleep 2
for i in 1 2 3; do
	write_attr "$o/size" 16M || fail "shrink under writes"
	sleep 0.5
	write_attr "$o/size" 64M || fail "grow under writes"
	sleep 0.5
done
write_attr "$o/size" 16M
kill $fpid 2>/dev/null
wait $fpid 2>/dev/null
[ "$(cat "$o/allocated")" -le $((16 << 20)) ] || fail "allocated $(cat "$o/allocated") beyond a 16 MiB end"
write_attr "$o/size" 64M
write_attr "$ns/revalidate_size" 1
dd if="$DEV" of="$back" bs=1M skip=16 count=48 iflag=direct status=none || fail "read after the race"
cmp -s "$back" <(head -c 48M /dev/zero) || fail "data beyond a shrink under writes came back"
msg "3 shrinks under a random writer: nothing beyond the end, zeroes after growing"
