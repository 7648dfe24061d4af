#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Data lives with the memory object: it survives namespace disable/enable
# and removal and re-creation of the namespace; removing the object frees
# its pages.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj keep0 96M
new_subsys testnqn.keep
new_ns testnqn.keep 1
mem_ns testnqn.keep 1 keep0
export_loop testnqn.keep 31
connect_loop testnqn.keep
pat=$(mktemp) back=$(mktemp)
cleanup_add "rm -f '$pat' '$back'"
head -c 64M /dev/urandom >"$pat"
dd if="$pat" of="$DEV" bs=1M oflag=direct status=none || fail "write"
nvme disconnect -n testnqn.keep >/dev/null
ns=$CFS/subsystems/testnqn.keep/namespaces/1

check() {
	connect_loop testnqn.keep
	dd if="$DEV" of="$back" bs=1M count=64 iflag=direct status=none || fail "read"
	cmp "$pat" "$back" || fail "data lost after $1"
	nvme disconnect -n testnqn.keep >/dev/null
	msg "64 MiB intact after $1"
}

write_attr "$ns/enable" 0
[ "$(cat "$MEMCFS/keep0/allocated")" = $((64 << 20)) ] || fail "pages freed on disable"
write_attr "$ns/enable" 1
check "disable/enable"

rm "$CFS/ports/31/subsystems/testnqn.keep"
write_attr "$ns/enable" 0
rmdir "$ns" || fail "rmdir namespace"
mkdir "$ns" || fail "mkdir namespace"
mem_ns testnqn.keep 1 keep0
ln -s "$CFS/subsystems/testnqn.keep" "$CFS/ports/31/subsystems/testnqn.keep"
check "namespace removal and re-creation"

# Removing the object gives its memory back.
# Free memory in KiB: MemFree plus the pages that wait in per-CPU lists,
# which MemFree does not count (freeing 64 MiB at once parks most there).
free_kib() {
	echo $(( $(awk '/^MemFree:/ { print $2 }' /proc/meminfo) +
		 $(awk '/count:/ { s += $2 } END { print s * 4 }' /proc/zoneinfo) ))
}
write_attr "$ns/enable" 0
sync; echo 3 >/proc/sys/vm/drop_caches
before=$(free_kib)
rmdir "$MEMCFS/keep0" || fail "rmdir object"
sleep 1
freed=$(( ($(free_kib) - before) / 1024 ))
msg "free memory grew by $freed MiB after removing an object holding 64 MiB"
[ $freed -ge 56 ] || fail "only $freed MiB came back"
[ ! -e "$MEMCFS/keep0" ] || fail "object still there"
