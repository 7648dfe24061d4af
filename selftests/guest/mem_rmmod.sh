#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rmmod is refused while a mem namespace is exported (and while a memory
# object exists); once both are gone it succeeds, with nothing left behind.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj busy1 8M
new_subsys testnqn.rmmod
new_ns testnqn.rmmod 1
mem_ns testnqn.rmmod 1 busy1
export_loop testnqn.rmmod 41
connect_loop testnqn.rmmod
dd if=/dev/urandom of="$DEV" bs=1M count=2 oflag=direct status=none || fail "write"
expect_errno EBUSY rmmod nvmet_mem
mem_loaded || fail "module went away while exported"
dd if="$DEV" of=/dev/null bs=1M count=2 iflag=direct status=none || fail "I/O after refused rmmod"
nvme disconnect -n testnqn.rmmod >/dev/null
write_attr "$CFS/subsystems/testnqn.rmmod/namespaces/1/enable" 0
expect_errno EBUSY rmmod nvmet_mem # the memory object still exists
rmdir "$MEMCFS/busy1" || fail "rmdir object"
rmmod nvmet_mem || fail "rmmod once unused"
[ ! -d "$MEMCFS" ] || fail "configfs subsystem left behind"
