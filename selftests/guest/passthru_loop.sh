#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Regression: nvmet passthru, which the series leaves outside the backend
# table, still serves I/O. A brd namespace is exported over nvme-loop; a
# passthru subsystem hands every command to the host controller of that
# connection, and is itself exported over nvme-loop (the set-up of
# blktests' passthru tests).
. "$(dirname "$0")/../lib.sh"
load_nvmet
modprobe brd rd_nr=1 rd_size=65536 || fail "modprobe brd"
cleanup_add "modprobe -r brd"
new_subsys testnqn.ptbase
new_ns testnqn.ptbase 1
ns=$CFS/subsystems/testnqn.ptbase/namespaces/1
write_attr "$ns/device_path" /dev/ram0
write_attr "$ns/enable" 1 || fail "enable brd namespace"
export_loop testnqn.ptbase 15
connect_loop testnqn.ptbase
base=$DEV ctrl=$(basename "$(readlink -f "/sys/block/${DEV#/dev/}/device")")
[ -c "/dev/$ctrl" ] || fail "no character device /dev/$ctrl"

new_subsys testnqn.pt
pt=$CFS/subsystems/testnqn.pt/passthru
[ -d "$pt" ] || skip "no nvmet passthru in this kernel (CONFIG_NVME_TARGET_PASSTHRU)"
write_attr "$pt/device_path" "/dev/$ctrl"
write_attr "$pt/enable" 1 || fail "enable passthru of /dev/$ctrl"
cleanup_add "echo 0 > '$pt/enable'"
# nvme-loop connects to its first port: export it there too
ln -s "$CFS/subsystems/testnqn.pt" "$CFS/ports/15/subsystems/testnqn.pt" || fail "link testnqn.pt to port 15"
cleanup_add "rm -f '$CFS/ports/15/subsystems/testnqn.pt'"
connect_loop testnqn.pt
[ "$DEV" != "$base" ] || fail "passthru connection found the base device"
[ "$(cat "/sys/block/${DEV#/dev/}/size")" = $((64 << 11)) ] || fail "size of $DEV"
msg "passthru of /dev/$ctrl ($base) serves $DEV"
verify_io "$DEV" 8
