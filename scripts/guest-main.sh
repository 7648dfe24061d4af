#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the guest for scripts/run.sh: the steps a user types, printed as
# they run, then a RESULT line.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cfs=/sys/kernel/config/nvmet
mem=/sys/kernel/config/nvmet_mem
nqn=nqn.2026-11.io.nvmet-mem:demo
ns=$cfs/subsystems/$nqn/namespaces/1
say() { printf '$ %s\n' "$*"; }
run() { say "$*"; "$@"; }
w() { say "echo $2 > $1"; printf '%s\n' "$2" >"$1"; }
show() { say "cat $1"; cat "$1"; }
id_ns() {
	say "nvme id-ns $1 | grep -E '^(nsze|nuse|nsfeat|dlfeat|lbaf  0)'"
	nvme id-ns "$1" | grep -E '^(nsze|nuse|nsfeat|dlfeat|lbaf  0)'
}

run modprobe nvmet
run modprobe nvme-loop
run insmod "${NVMET_MEM_KO:-$top/nvmet-mem.ko}"
run mkdir "$mem/demo0"
w "$mem/demo0/size" 256M
w "$mem/demo0/blocksize" 4096
run mkdir "$cfs/subsystems/$nqn"
w "$cfs/subsystems/$nqn/attr_allow_any_host" 1
run mkdir "$ns"
w "$ns/backend" mem
w "$ns/device_path" demo0
w "$ns/enable" 1
run mkdir "$cfs/ports/1"
w "$cfs/ports/1/addr_trtype" loop
run ln -s "$cfs/subsystems/$nqn" "$cfs/ports/1/subsystems/$nqn"
run nvme connect -t loop -n "$nqn"
dev=""
for i in $(seq 1 50); do
	for d in /sys/block/nvme*n*; do
		[ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$nqn" ] && dev=/dev/$(basename "$d")
	done
	[ -n "$dev" ] && break
	sleep 0.1
done
[ -n "$dev" ] || { echo "RESULT: FAILED: no namespace device appeared"; exit 1; }
id_ns "$dev"
fio_args=(--name=demo --filename="$dev" --direct=1 --ioengine=io_uring --iodepth=16
	  --bs=4k --size=64M --rw=randwrite --verify=crc32c --do_verify=1
	  --verify_fatal=1 --randrepeat=0)
say "fio ${fio_args[*]}"
if ! fio "${fio_args[@]}" --output-format=json >/tmp/demo.fio; then
	echo "RESULT: FAILED: fio verify failed"
	exit 1
fi
read -r wr_kb rd_kb < <(python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))["jobs"][0]
print(j["write"]["io_bytes"] // 1024, j["read"]["io_bytes"] // 1024)' /tmp/demo.fio)
echo "fio wrote ${wr_kb} KiB and read back ${rd_kb} KiB, crc32c verified"
id_ns "$dev"
show "$mem/demo0/allocated"
run blkdiscard -o 0 -l 32M "$dev"
id_ns "$dev"
show "$mem/demo0/allocated"
say "cmp -n 32M /dev/zero $dev"
cmp -n 32M /dev/zero "$dev" && echo "deallocated range reads zeroes"
allocated=$(cat "$mem/demo0/allocated")
run nvme disconnect -n "$nqn"
run rm "$cfs/ports/1/subsystems/$nqn"
run rmdir "$cfs/ports/1"
w "$ns/enable" 0
run rmdir "$ns"
run rmdir "$cfs/subsystems/$nqn"
run rmdir "$mem/demo0"
run rmmod nvmet_mem
echo "RESULT: mem namespace $dev (256 MiB, 4096-byte blocks) over nvme-loop:" \
     "${wr_kb} KiB written and ${rd_kb} KiB read back verified;" \
     "32 MiB deallocated read back as zeroes; ${allocated} bytes of pages in use at the end"
