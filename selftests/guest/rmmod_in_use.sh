#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rmmod is refused while an enabled namespace uses the backend, and allowed
# again once it is disabled.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj busy0 1M
new_subsys testnqn.busy
new_ns testnqn.busy 1
ns=$CFS/subsystems/testnqn.busy/namespaces/1
write_attr "$ns/backend" mem
write_attr "$ns/device_path" busy0
idle=$(cat /sys/module/nvmet_mem/refcnt) # configfs holds one per object
write_attr "$ns/enable" 1 || fail "enable"
[ "$(cat /sys/module/nvmet_mem/refcnt)" -gt "$idle" ] || fail "refcnt not held"
expect_errno EBUSY rmmod nvmet_mem
mem_loaded || fail "module went away under an enabled namespace"
write_attr "$ns/enable" 0
[ "$(cat /sys/module/nvmet_mem/refcnt)" = "$idle" ] || fail "refcnt not dropped"
rmdir "$MEMCFS/busy0"
rmmod nvmet_mem || fail "rmmod after disable"
