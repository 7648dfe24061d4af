#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rmmod is refused while an enabled namespace uses the backend, and allowed
# again once it is disabled.
. "$(dirname "$0")/../lib.sh"
load_mem
new_subsys testnqn.busy
new_ns testnqn.busy 1
ns=$CFS/subsystems/testnqn.busy/namespaces/1
write_attr "$ns/backend" mem
write_attr "$ns/device_path" busy0
write_attr "$ns/enable" 1 || fail "enable"
[ "$(cat /sys/module/nvmet_mem/refcnt)" -ge 1 ] || fail "refcnt not held"
expect_errno EBUSY rmmod nvmet_mem
mem_loaded || fail "module went away under an enabled namespace"
write_attr "$ns/enable" 0
[ "$(cat /sys/module/nvmet_mem/refcnt)" = 0 ] || fail "refcnt not dropped"
rmmod nvmet_mem || fail "rmmod after disable"
