#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rmmod unregisters the backend: the log says so, and when no module can
# be loaded for it (modprobe replaced by /bin/false here, as the kernel may
# carry an in-tree nvmet-mem, see mem_intree), "mem" can no longer be
# selected and a namespace that had selected it fails to enable (-ENODEV).
. "$(dirname "$0")/../lib.sh"
load_mem
new_subsys testnqn.unload
new_ns testnqn.unload 1
ns=$CFS/subsystems/testnqn.unload/namespaces/1
write_attr "$ns/backend" mem || fail "select mem"
write_attr "$ns/device_path" unload0
log_mark
rmmod nvmet_mem || fail "rmmod with no namespace enabled"
mem_loaded && fail "still loaded"
log_since | grep -q "nvmet_mem: unregistered backend mem" || fail "no unregistration message"
mp=$(cat /proc/sys/kernel/modprobe)
cleanup_add "echo '$mp' > /proc/sys/kernel/modprobe"
write_attr /proc/sys/kernel/modprobe /bin/false
expect_errno EINVAL try_write "$ns/backend" mem
expect_errno ENODEV try_write "$ns/enable" 1
[ "$(cat "$ns/enable")" = 0 ] || fail "namespace enabled without backend"
write_attr /proc/sys/kernel/modprobe "$mp"
insmod "$MEM_KO" || fail "reload"
new_mem_obj unload0 1M
write_attr "$ns/backend" mem
write_attr "$ns/enable" 1 || fail "enable after reload"
write_attr "$ns/enable" 0
