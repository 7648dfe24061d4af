#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regression: a brd namespace (bdev backend, untouched by the series) still
# serves I/O over nvme-loop with the patched nvmet.
. "$(dirname "$0")/../lib.sh"
load_nvmet
modprobe brd rd_nr=1 rd_size=65536 || fail "modprobe brd"
cleanup_add "modprobe -r brd"
new_subsys testnqn.brd
new_ns testnqn.brd 1
ns=$CFS/subsystems/testnqn.brd/namespaces/1
write_attr "$ns/device_path" /dev/ram0
write_attr "$ns/enable" 1 || fail "enable brd namespace"
export_loop testnqn.brd 11
connect_loop testnqn.brd; dev=$DEV
[ "$(cat /sys/block/${dev#/dev/}/size)" = $((64 << 11)) ] || fail "size of $dev"
# what the block device reports through Identify (its queue limits: 512
# byte blocks, 4 KiB physical blocks, I/O size and discard granularity)
expect_id_fields "$dev" "oncs=0x2c nsfeat=50 dlfeat=0 nawun=7 nawupf=7 nacwu=7 npwg=7 npwa=7 npdg=7 npda=7 nows=0 ind_nsfeat=32 compare=0 verify=0"
verify_io "$dev" 8
