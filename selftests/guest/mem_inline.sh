#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Inline execution on nvme-loop (patch 0004): reads and writes to allocated
# pages run in the submitter's context, writes that allocate go through
# nvmet_wq. Counted with the workqueue_queue_work trace event: each command
# nvme-loop defers shows up as one event for nvme_loop_execute_work. The
# data must come back intact either way.
. "$(dirname "$0")/../lib.sh"
tr=/sys/kernel/tracing
[ -d "$tr/events" ] || mount -t tracefs nodev "$tr" 2>/dev/null
ev=$tr/events/workqueue/workqueue_queue_work
[ -e "$ev/enable" ] || skip "no workqueue trace events (CONFIG_EVENT_TRACING)"
load_mem
new_mem_obj inl0 16M 4096
new_subsys testnqn.inline
new_ns testnqn.inline 1
mem_ns testnqn.inline 1 inl0
export_loop testnqn.inline 121
connect_loop testnqn.inline
n=256
pat=$(mktemp) back=$(mktemp)
cleanup_add "rm -f '$pat' '$back'; echo 0 > '$ev/enable'"
head -c $((n * 4096)) /dev/urandom >"$pat"

# deferred CMD...: run CMD with the event on; print how many commands
# nvme-loop handed to the workqueue meanwhile.
deferred() {
	echo >"$tr/trace"
	echo 1 >"$ev/enable"
	"$@" || fail "$*"
	echo 0 >"$ev/enable"
	grep -c nvme_loop_execute_work "$tr/trace"
}
# One command per block: dd with bs=4k and O_DIRECT. A keep-alive or two of
# the admin queue may be deferred meanwhile: a few events are noise.
noise=4
first=$(deferred dd if="$pat" of="$DEV" bs=4k count=$n oflag=direct status=none)
[ "$first" -ge $n ] || fail "first writes (allocating): $first of $n deferred, expected all"
reads=$(deferred dd if="$DEV" of="$back" bs=4k count=$n iflag=direct status=none)
[ "$reads" -le $noise ] || fail "reads: $reads of $n deferred, expected none"
cmp "$pat" "$back" || fail "data read back differs"
head -c $((n * 4096)) /dev/urandom >"$pat"
over=$(deferred dd if="$pat" of="$DEV" bs=4k count=$n oflag=direct status=none)
[ "$over" -le $noise ] || fail "overwrites: $over of $n deferred, expected none"
dd if="$DEV" of="$back" bs=4k count=$n iflag=direct status=none || fail "read back"
cmp "$pat" "$back" || fail "overwritten data read back differs"
msg "deferred to nvmet_wq: $first of $n allocating writes, $reads of $n reads, $over of $n overwrites; data intact"
