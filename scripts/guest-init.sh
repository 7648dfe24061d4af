#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest (started by scripts/vm.sh): run the script, save its
# exit status and output, then the kernel log.
#   guest-init.sh OUTDIR SCRIPT [ARGS...]
out=$1 script=$2
shift 2
export NVMET_MEM_OUT=$out
# NVMET_MEM_KO: the module built for this kernel (written by vm.sh)
set -a
. "$out/guest.env"
set +a
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
cd /tmp || exit 1
bash "$script" "$@" >"$out/output.log" 2>&1
rc=$?
sync
# On a kmemleak kernel: two scans (an object must be seen unreferenced
# twice), then the report; vm.sh fails the run on any leak in it.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$out/kmemleak"
fi
dmesg >"$out/dmesg"
echo "$rc" >"$out/rc"
sync
