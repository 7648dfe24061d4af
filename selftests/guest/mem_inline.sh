#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The nowait contract on nvme-loop (patch 0009): nvme-loop calls execute
# from its submission context; reads and writes to allocated pages complete
# there, writes that need a page hand themselves to nvmet_wq with
# nvmet_req_defer(). Counted with the workqueue_queue_work trace event: a
# command that nvme-loop queues itself shows up as nvme_loop_execute_work,
# one that the backend defers as nvmet_req_defer_work. The data must come
# back intact either way. An object with nowait = 0 claims no nowait
# capability: nvme-loop queues every one of its commands.
. "$(dirname "$0")/../lib.sh"
trace_event workqueue/workqueue_queue_work
load_mem
new_mem_obj inl0 16M 4096
new_mem_obj inl1 16M 4096
write_attr "$MEMCFS/inl1/nowait" 0 || fail "nowait 0"
new_subsys testnqn.inline
new_ns testnqn.inline 1
mem_ns testnqn.inline 1 inl0
new_ns testnqn.inline 2
mem_ns testnqn.inline 2 inl1
export_loop testnqn.inline 121
connect_loop testnqn.inline
dev_of testnqn.inline loop 2
dev2=$DEV
dev_of testnqn.inline loop 1
n=256
pat=$(mktemp) back=$(mktemp)
cleanup_add "rm -f '$pat' '$back'; echo 0 > '$EV/enable'"
head -c $((n * 4096)) /dev/urandom >"$pat"

# deferred CMD...: run CMD with the event on; set DEFERRED to how many
# commands went through the workqueue meanwhile, deferred by the backend or
# queued by nvme-loop. (Not called in a command substitution, where its
# `fail` would end a subshell only.)
deferred() {
	echo >"$TRACEFS/trace"
	echo 1 >"$EV/enable"
	"$@" || fail "$*"
	echo 0 >"$EV/enable"
	DEFERRED=$(grep -c 'nvmet_req_defer_work\|nvme_loop_execute_work' "$TRACEFS/trace")
}
# One command per block: dd with bs=4k and O_DIRECT. A keep-alive or two of
# the admin queue may be deferred meanwhile: a few events are noise.
noise=4
deferred dd if="$pat" of="$DEV" bs=4k count=$n oflag=direct status=none
first=$DEFERRED
[ "$first" -ge $n ] || fail "first writes (allocating): $first of $n deferred, expected all"
by_backend=$(grep -c nvmet_req_defer_work "$TRACEFS/trace")
[ "$by_backend" -ge $n ] || fail "first writes: $by_backend of $n deferred by the backend, expected all"
deferred dd if="$DEV" of="$back" bs=4k count=$n iflag=direct status=none
reads=$DEFERRED
[ "$reads" -le $noise ] || fail "reads: $reads of $n deferred, expected none"
cmp "$pat" "$back" || fail "data read back differs"
head -c $((n * 4096)) /dev/urandom >"$pat"
deferred dd if="$pat" of="$DEV" bs=4k count=$n oflag=direct status=none
over=$DEFERRED
[ "$over" -le $noise ] || fail "overwrites: $over of $n deferred, expected none"
dd if="$DEV" of="$back" bs=4k count=$n iflag=direct status=none || fail "read back"
cmp "$pat" "$back" || fail "overwritten data read back differs"
msg "deferred to nvmet_wq: $first of $n allocating writes, $reads of $n reads, $over of $n overwrites; data intact"

# nowait = 0: nvme-loop queues reads and writes itself; nothing is deferred
deferred dd if="$pat" of="$dev2" bs=4k count=$n oflag=direct status=none
w_queued=$(grep -c nvme_loop_execute_work "$TRACEFS/trace")
w_deferred=$(grep -c nvmet_req_defer_work "$TRACEFS/trace")
deferred dd if="$dev2" of="$back" bs=4k count=$n iflag=direct status=none
r_queued=$(grep -c nvme_loop_execute_work "$TRACEFS/trace")
r_deferred=$(grep -c nvmet_req_defer_work "$TRACEFS/trace")
cmp "$pat" "$back" || fail "nowait 0: data read back differs"
[ "$w_queued" -ge $n ] || fail "nowait 0: $w_queued of $n writes queued by nvme-loop, expected all"
[ "$r_queued" -ge $n ] || fail "nowait 0: $r_queued of $n reads queued by nvme-loop, expected all"
[ $((w_deferred + r_deferred)) = 0 ] || fail "nowait 0: $w_deferred writes and $r_deferred reads deferred by the backend, expected none"
msg "nowait 0: queued by nvme-loop: $w_queued of $n writes, $r_queued of $n reads; none deferred; data intact"
