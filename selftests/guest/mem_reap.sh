#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A removed object's pages are freed off nvmet's and configfs's locks: the
# rmdir of an object that a namespace serves, and then the namespace's
# disable, each hand their reference to the table's reap work, which drops
# it on a kworker (traced with workqueue_execute_start: the work's run
# function is the one of ObjectTable's work item 1). Afterwards a new
# object of the name starts empty.
. "$(dirname "$0")/../lib.sh"
trace_event workqueue/workqueue_execute_start
load_mem
new_mem_obj reap0 16M 4096
new_subsys testnqn.reap
new_ns testnqn.reap 1
mem_ns testnqn.reap 1 reap0
export_loop testnqn.reap 131
connect_loop testnqn.reap
cleanup_add "echo 0 > '$EV/enable'"
dd if=/dev/urandom of="$DEV" bs=1M count=8 oflag=direct status=none || fail "writing 8 MiB"
pages=$(( $(cat "$MEMCFS/reap0/allocated") / 4096 ))
[ "$pages" -eq 2048 ] || fail "$pages pages allocated, expected 2048"

# reaps: how many times the reap work ran since the trace was cleared
reaps() { grep -c 'ObjectTable.*WorkItemPointerKy1_E3run' "$TRACEFS/trace"; }
# wait_reaps N: until the reap work has run N times (at most 10 s)
wait_reaps() {
	local i
	for i in $(seq 1 100); do
		[ "$(reaps)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
echo >"$TRACEFS/trace"
echo 1 >"$EV/enable"
rmdir "$MEMCFS/reap0" || fail "rmdir of a bound object"
wait_reaps 1 || fail "the rmdir did not hand its reference to the reap work"
# the namespace still serves the object
dd if="$DEV" of=/dev/null bs=1M count=8 iflag=direct status=none || fail "reading after rmdir"
nvme disconnect -n testnqn.reap >/dev/null || fail "disconnect"
echo >"$TRACEFS/trace"
write_attr "$CFS/subsystems/testnqn.reap/namespaces/1/enable" 0 || fail "disable"
wait_reaps 1 || fail "the disable did not hand its reference to the reap work"
echo 0 >"$EV/enable"
msg "rmdir and disable of an object with $pages pages each handed their reference to the reap work"
# the name is free and a new object of it is empty
new_mem_obj reap0 16M 4096
[ "$(cat "$MEMCFS/reap0/allocated")" = 0 ] || fail "a new object of the name is not empty"
msg "a new object of the name is empty"
