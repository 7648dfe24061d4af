#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# insmod registers the "mem" backend with nvmet: the kernel log says so and a
# namespace can select it.
. "$(dirname "$0")/../lib.sh"
load_nvmet
unload_mem
log_mark
insmod "$MEM_KO" || fail "insmod"
mem_loaded || fail "nvmet_mem not in /sys/module"
log_since | grep -q "nvmet_mem: registered backend mem" || fail "no registration message"
grep -q '^nvmet_mem ' /proc/modules || fail "not in /proc/modules"
# nvmet_mem depends on nvmet, so nvmet lists it as a user.
grep '^nvmet ' /proc/modules | grep -q nvmet_mem || fail "nvmet does not list nvmet_mem as user"
new_subsys testnqn.load
new_ns testnqn.load 1
write_attr "$CFS/subsystems/testnqn.load/namespaces/1/backend" mem || fail "select mem"
[ "$(cat "$CFS/subsystems/testnqn.load/namespaces/1/backend")" = mem ] || fail "backend reads back wrong"
