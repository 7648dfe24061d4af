#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A namespace inherits nothing from the backend it had before. Enabled on a
# zoned null_blk, nvmet serves it with the Zoned Namespace command set
# (ns->csi); disabled, switched to a memory object and enabled again, it
# must be a plain NVM namespace: I/O works (with a stale csi, Read and Write
# would go to the ZNS handlers, which use ns->bdev, NULL here), Identify
# reports the NVM command set and no protection information. Then back to
# the zoned device, which must again be served as ZNS.
. "$(dirname "$0")/../lib.sh"
load_mem
modprobe null_blk nr_devices=0 2>/dev/null || skip "no null_blk"
nb=/sys/kernel/config/nullb
[ -d "$nb" ] || skip "null_blk has no configfs"
mkdir "$nb/nvmz" || fail "mkdir nullb"
cleanup_add "echo 0 > '$nb/nvmz/power'; rmdir '$nb/nvmz'"
for kv in zoned=1 zone_size=4 zone_nr_conv=0 size=64 blocksize=4096 memory_backed=1 power=1; do
	write_attr "$nb/nvmz/${kv%%=*}" "${kv#*=}" 2>/dev/null || skip "null_blk: cannot set ${kv%%=*} (zoned support?)"
done
# the disk is named after the configfs directory (nullbN on older kernels)
zdev=/dev/nvmz
[ -d /sys/block/nvmz ] || zdev=/dev/nullb$(cat "$nb/nvmz/index")
[ -d "/sys/block/${zdev#/dev/}" ] || fail "no ${zdev#/dev/} in /sys/block"
mknod_dev "/sys/block/${zdev#/dev/}"
[ "$(cat "/sys/block/${zdev#/dev/}/queue/zoned")" = host-managed ] || fail "$zdev is not zoned"

nqn=testnqn.afterzoned
new_mem_obj az0 16M 4096
new_subsys $nqn
new_ns $nqn 1
ns=$CFS/subsystems/$nqn/namespaces/1
write_attr "$ns/device_path" "$zdev"
write_attr "$ns/enable" 1 || fail "enable on the zoned $zdev"
export_loop $nqn 181

# csi NSID: the Command Set Identifier the host reads from the namespace
# identification descriptors (0 NVM, 2 ZNS)
csi_of() {
	local c
	c=$(nvme ns-descs "$1" 2>/dev/null | sed -n 's/^csi *: *//p' | head -n 1)
	[ -n "$c" ] && printf '%d\n' "$c"
}
connect_loop $nqn
[ "$(csi_of "$DEV")" = 2 ] || fail "zoned device not served as ZNS (csi '$(csi_of "$DEV")')"
nvme disconnect -n $nqn >/dev/null
msg "$zdev served with the Zoned Namespace command set"

write_attr "$ns/enable" 0
write_attr "$ns/backend" mem
write_attr "$ns/device_path" az0
write_attr "$ns/enable" 1 || fail "enable on the memory object"
connect_loop $nqn
csi=$(csi_of "$DEV")
[ "$csi" = 0 ] || fail "memory namespace has csi '$csi' after a zoned device"
dps=$(nvme id-ns "$DEV" | sed -n 's/^dps *: *//p')
[ "$((dps))" -eq 0 ] || fail "memory namespace advertises protection information (dps $dps)"
verify_io "$DEV" 4
nvme disconnect -n $nqn >/dev/null
msg "after the zoned device, the memory object is an NVM namespace and serves I/O"

write_attr "$ns/enable" 0
write_attr "$ns/backend" ""
write_attr "$ns/device_path" "$zdev"
write_attr "$ns/enable" 1 || fail "enable on $zdev again"
connect_loop $nqn
[ "$(csi_of "$DEV")" = 2 ] || fail "zoned device not served as ZNS after mem"
msg "and back to the zoned device, served as ZNS again"
