#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest (started by scripts/vm.sh): run the script, save its
# exit status and output, then the kernel log.
#   guest-init.sh OUTDIR SCRIPT [ARGS...]
out=$1 script=$2
shift 2
export NVMET_MEM_OUT=$out
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug 2>/dev/null
cd /tmp || exit 1
bash "$script" "$@" >"$out/output.log" 2>&1
rc=$?
sync
dmesg >"$out/dmesg"
echo "$rc" >"$out/rc"
sync
