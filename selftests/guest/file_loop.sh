#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regression: a file namespace on tmpfs (file backend, untouched by the
# series) still serves I/O over nvme-loop with the patched nvmet.
. "$(dirname "$0")/../lib.sh"
load_nvmet
dir=$(mktemp -d)
mount -t tmpfs none "$dir" || fail "mount tmpfs"
cleanup_add "umount '$dir'; rmdir '$dir'"
truncate -s 64M "$dir/ns.img"
new_subsys testnqn.file
new_ns testnqn.file 1
ns=$CFS/subsystems/testnqn.file/namespaces/1
write_attr "$ns/device_path" "$dir/ns.img"
write_attr "$ns/enable" 1 || fail "enable file namespace"
export_loop testnqn.file 12
connect_loop testnqn.file; dev=$DEV
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((64 << 11)) ] || fail "size of $dev"
# a file reports no limits and a volatile write cache
expect_id_fields "$dev" "oncs=0x2c nsfeat=0 dlfeat=0 nawun=0 npwg=0 npdg=0 nows=0 ind_nsfeat=0 compare=0 verify=0"
verify_io "$dev" 8
