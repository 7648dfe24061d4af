#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# No-data mode: Read and Write complete successfully without allocating
# pages or storing anything; the LBA range is still checked.
. "$(dirname "$0")/../lib.sh"
load_mem
mkdir "$MEMCFS/nd0" || fail "mkdir"
cleanup_add "rmdir '$MEMCFS/nd0'"
write_attr "$MEMCFS/nd0/size" 64M
write_attr "$MEMCFS/nd0/nodata" 1 || fail "nodata 1"
[ "$(cat "$MEMCFS/nd0/nodata")" = 1 ] || fail "nodata reads back wrong"
new_subsys testnqn.nd
new_ns testnqn.nd 1
mem_ns testnqn.nd 1 nd0
export_loop testnqn.nd 111
connect_loop testnqn.nd
dd if=/dev/urandom of="$DEV" bs=1M count=16 oflag=direct status=none || fail "write"
dd if="$DEV" of=/dev/null bs=1M count=16 iflag=direct status=none || fail "read"
fio --name=nd --filename="$DEV" --rw=randrw --bs=4k --size=64M --direct=1 \
    --ioengine=io_uring --iodepth=16 --io_size=16M --output=/dev/null || fail "fio"
[ "$(cat "$MEMCFS/nd0/allocated")" = 0 ] || fail "pages allocated in no-data mode"
[ "$(nuse "$DEV")" = 0 ] || fail "NUSE not 0 in no-data mode"
out=$(mktemp)
cleanup_add "rm -f '$out'"
if nvme read "$DEV" -s $((64 << 11)) -c 0 -z 512 -d /dev/null >"$out" 2>&1; then
	fail "read beyond the end succeeded"
fi
grep -qi "LBA.*range" "$out" || { cat "$out"; fail "not LBA Out of Range"; }
msg "no-data mode: 48 MiB of I/O, no page allocated, range still checked"
