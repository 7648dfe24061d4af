#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the guest for scripts/run.sh: the steps a user types, printed as
# they run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cfs=/sys/kernel/config/nvmet
nqn=nqn.2026-11.io.nvmet-mem:demo
say() { printf '$ %s\n' "$*"; }
run() { say "$*"; "$@"; }
w() { say "echo $2 > $1"; printf '%s\n' "$2" >"$1"; }

run modprobe nvmet
run modprobe nvme-loop
run insmod "$top/nvmet-mem.ko"
dmesg | grep -E 'nvmet(_mem)?: .*(backend|ready)' | sed 's/^/  dmesg: /'

run mkdir "$cfs/subsystems/$nqn"
w "$cfs/subsystems/$nqn/attr_allow_any_host" 1
run mkdir "$cfs/subsystems/$nqn/namespaces/1"
w "$cfs/subsystems/$nqn/namespaces/1/backend" mem
w "$cfs/subsystems/$nqn/namespaces/1/device_path" demo0
w "$cfs/subsystems/$nqn/namespaces/1/enable" 1
run mkdir "$cfs/ports/1"
w "$cfs/ports/1/addr_trtype" loop
run ln -s "$cfs/subsystems/$nqn" "$cfs/ports/1/subsystems/$nqn"
run nvme connect -t loop -n "$nqn"
sleep 1
dev=""
for d in /sys/block/nvme*n*; do
	[ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$nqn" ] && dev=/dev/$(basename "$d")
done
[ -n "$dev" ] || { echo "no namespace device appeared"; exit 1; }
say "nvme id-ns $dev | grep -E '^(nsze|ncap|nuse|lbaf  0)'"
nvme id-ns "$dev" --output-format=normal | grep -E '^(nsze|ncap|nuse|lbaf  0)'
say "dd if=$dev of=/dev/null bs=4k count=1 iflag=direct"
if dd if="$dev" of=/dev/null bs=4k count=1 iflag=direct 2>&1; then
	echo "RESULT: mem namespace $dev served a 4 KiB read"
else
	echo "RESULT: mem namespace $dev is registered, enabled and exported;" \
	     "its I/O path is not implemented yet (commands complete with Invalid Opcode)"
fi
run nvme disconnect -n "$nqn"
run rm "$cfs/ports/1/subsystems/$nqn"
run rmdir "$cfs/ports/1"
w "$cfs/subsystems/$nqn/namespaces/1/enable" 0
run rmdir "$cfs/subsystems/$nqn/namespaces/1"
run rmdir "$cfs/subsystems/$nqn"
run rmmod nvmet_mem
