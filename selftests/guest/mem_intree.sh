#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The nvmet-mem that the guest kernel builds from the series' last patch
# (CONFIG_NVME_TARGET_MEM=m): with no nvmet-mem loaded, selecting the
# "mem" backend loads it through its alias nvmet-backend-mem, and so does
# enabling the namespace after the module was unloaded; it is the in-tree
# module (no out-of-tree taint), and it serves a namespace.
. "$(dirname "$0")/../lib.sh"
load_nvmet
modinfo -n nvmet-backend-mem >/dev/null 2>&1 ||
	skip "no in-tree nvmet-mem in this kernel (CONFIG_NVME_TARGET_MEM)"
unload_mem || fail "rmmod nvmet_mem"
# runs last: the tests after this one load the out-of-tree module
cleanup_add "rmmod nvmet_mem"
new_subsys testnqn.intree
new_ns testnqn.intree 1
ns=$CFS/subsystems/testnqn.intree/namespaces/1
write_attr "$ns/device_path" intree0
write_attr "$ns/backend" mem || fail "backend mem: the in-tree module was not loaded"
mem_loaded || fail "backend mem took without loading nvmet_mem"
taint=$(cat /sys/module/nvmet_mem/taint)
[[ $taint != *O* ]] || fail "the nvmet_mem loaded is an out-of-tree module (taint $taint)"
msg "writing mem loaded $(modinfo -n nvmet-backend-mem) (taint '$taint')"
rmmod nvmet_mem || fail "rmmod nvmet_mem with no object and the namespace disabled"
# the object is gone with the module: the enable fails, after loading it
expect_errno ENOENT try_write "$ns/enable" 1
mem_loaded || fail "enable did not load nvmet-backend-mem again"
msg "enable loaded the module again"
new_mem_obj intree0 16M
write_attr "$ns/enable" 1 || fail "enable"
export_loop testnqn.intree 14
connect_loop testnqn.intree
verify_io "$DEV" 8
