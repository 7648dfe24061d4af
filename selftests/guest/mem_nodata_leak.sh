#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A no-data namespace read over a fabric returns zeroes, never the
# target's memory: over tcp and rdma the read's data buffer is allocated on
# the target, and in no-data mode nothing is copied into it. A marker is
# planted in 128 MiB of memory that is then freed, so that recycled pages
# would carry it; 64 MiB read from the namespace must be all zeroes.
#   mem_nodata_leak.sh TRANSPORT   (tcp, rdma)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
tr=${1:?usage: mem_nodata_leak.sh TRANSPORT}
load_mem
new_mem_obj ndl0 64M
write_attr "$MEMCFS/ndl0/nodata" 1 || fail "nodata 1"
nqn=testnqn.ndleak.$tr
new_subsys $nqn
new_ns $nqn 1
mem_ns $nqn 1 ndl0
export_port "$tr" $nqn 161
connect_port "$tr" $nqn 161
out=$(mktemp)
cleanup_add "rm -f '$out'"
python3 -c '
m = b"NVMETMEMLEAK0123" * (8 << 20)
print("# planted", len(m) >> 20, "MiB of marker, freeing it")
' || fail "planting the marker"
dd if="$DEV" of="$out" bs=1M count=64 iflag=direct status=none || fail "read"
marks=$(grep -c NVMETMEMLEAK "$out" 2>/dev/null || true)
nonzero=$(python3 -c '
import sys
d = open(sys.argv[1], "rb").read()
print(sum(1 for i in range(0, len(d), 4096) if d[i:i + 4096].count(0) != 4096))
' "$out")
[ "$nonzero" -eq 0 ] ||
	fail "$nonzero of 16384 pages read over $tr are not zero (marker lines: $marks): target memory reached the host"
msg "64 MiB read from a no-data namespace over $tr: all zeroes"
