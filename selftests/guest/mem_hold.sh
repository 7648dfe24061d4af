#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Held commands: a rule with hold_ms keeps the commands it matches without
# completing them. Over nvme-tcp with a 5 s I/O timeout, a held write
# times out on the host, which resets the controller and reconnects; the
# target aborts the held command when the queue goes (it never executes),
# the host retries it, the retry is held too, and once the rule is
# disabled the retry executes and the write completes. The data written
# before is intact and the held block has the new data. Over nvme-loop
# (whose host has no I/O timeout): disabling the namespace under a held
# read returns and the read fails; with hold_ms 1000 a held read ends by
# itself with an error. With a hold far longer than the test waits, a host
# disconnect under a held read still waits 5 s after it began deleting the
# controller, and returns once the rule is disabled: the read was held
# once, then executed and succeeded, no error. The data stays intact. The
# kernel log and kmemleak stay clean.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
to=/sys/module/nvme_core/parameters/io_timeout
old_to=$(cat $to)
write_attr $to 5 || fail "io_timeout"
cleanup_add "echo $old_to > $to"
new_mem_obj hold0 64M 4096
o=$MEMCFS/hold0
stat_of() { sed -n "s/^$1 //p" "$o/stats"; }
# wait_stat NAME MIN SECONDS: until counter NAME reaches MIN
wait_stat() {
	local i
	for i in $(seq 1 $((${3} * 10))); do
		[ "$(stat_of "$1")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
pat=$(mktemp) new=$(mktemp) exp=$(mktemp)
cleanup_add "rm -f '$pat' '$new' '$exp'"
head -c 8M /dev/urandom >"$pat"
head -c 4096 /dev/urandom >"$new"
cp "$pat" "$exp"
dd if="$new" of="$exp" bs=4096 seek=1000 conv=notrunc status=none

# --- tcp: timeout, reset, reconnect, retry ---
new_subsys testnqn.hold1
new_ns testnqn.hold1 1
mem_ns testnqn.hold1 1 hold0
export_port tcp testnqn.hold1 71
connect_port tcp testnqn.hold1 71
dd if="$pat" of="$DEV" bs=1M oflag=direct status=none || fail "write 8 MiB"
r=$o/stall
mkdir "$r" || fail "mkdir rule"
cleanup_add "rmdir '$r'"
write_attr "$r/commands" write
write_attr "$r/lba_start" 1000
write_attr "$r/lba_count" 10
write_attr "$r/hold_ms" 120000 || fail "hold_ms 120000"
write_attr "$r/enable" 1 || fail "enable a hold rule without a status"
held0=$(stat_of held_commands)
err0=$(stat_of errors)
dd if="$new" of="$DEV" bs=4096 seek=1000 oflag=direct status=none &
ddpid=$!
cleanup_add "kill $ddpid 2>/dev/null"
wait_stat held_commands $((held0 + 1)) 30 || fail "the write was not held"
# the host times out (5 s), resets, reconnects and retries: held again
wait_stat held_commands $((held0 + 2)) 90 ||
	fail "no retry after the host's timeout: $(dmesg | grep -i nvme | tail -n 3 | tr '\n' ' ')"
kill -0 $ddpid 2>/dev/null || fail "the write completed while held"
[ $(($(stat_of errors) - err0)) -ge 1 ] || fail "the first held command was not aborted"
dmesg | grep -q "nvme.*\(timeout\|resetting\|Reconnecting\|reconnect\)" ||
	fail "the host did not time out and reset"
msg "tcp: held write timed out on the host, which reset and reconnected; the retry is held too"
write_attr "$r/enable" 0
wait_gone $ddpid 60 || fail "the write did not complete once the rule was off"
wait $ddpid || fail "the write failed once the rule was off"
cmp -s "$exp" <(dd if="$DEV" bs=1M count=8 iflag=direct status=none) ||
	fail "not the data written before with the new block at LBA 1000"
msg "tcp: rule off, the retried write completed; $(($(stat_of held_commands) - held0)) held, data intact"
nvme disconnect -n testnqn.hold1 >/dev/null

# --- loop: namespace disable releases a held read ---
write_attr "$r/commands" read
write_attr "$r/lba_start" 0
write_attr "$r/lba_count" 0
new_subsys testnqn.hold2
new_ns testnqn.hold2 1
write_attr "$CFS/subsystems/testnqn.hold1/namespaces/1/enable" 0
mem_ns testnqn.hold2 1 hold0
export_loop testnqn.hold2 72
connect_loop testnqn.hold2
# Only once the host has scanned the new namespace (opening the device
# waits for its partition scan): a held read of the scan would count as the
# test's, and keep the test's read from opening the device until it ended.
dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct status=none || fail "read before the hold"
write_attr "$r/enable" 1
held0=$(stat_of held_commands)
dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct status=none &
ddpid=$!
wait_stat held_commands $((held0 + 1)) 30 || fail "the read was not held"
write_attr "$CFS/subsystems/testnqn.hold2/namespaces/1/enable" 0 || fail "disable under a held read"
wait_gone $ddpid 60 || fail "the held read did not end after the namespace was disabled"
wait $ddpid && fail "the held read succeeded on a disabled namespace"
msg "loop: disabling the namespace ended the held read"
write_attr "$r/enable" 0
write_attr "$CFS/subsystems/testnqn.hold2/namespaces/1/enable" 1 || fail "enable again"
# The host sees the namespace again when it has handled the target's
# event and rescanned: seconds, and more on a loaded machine.
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
	DEV=
	find_dev testnqn.hold2 && cmp -s "$exp" <(dd if="$DEV" bs=1M count=8 iflag=direct status=none 2>/dev/null) && break
	sleep 0.2
done
cmp -s "$exp" <(dd if="$DEV" bs=1M count=8 iflag=direct status=none) ||
	fail "data not intact after the namespace came back"
msg "loop: namespace enabled again, data intact"

# --- loop: hold_ms bounds a hold ---
write_attr "$r/hold_ms" 1000
write_attr "$r/enable" 1
held0=$(stat_of held_commands)
err0=$(stat_of errors)
# the host retries an aborted read (Abort Requested has no DNR): each try
# is held 1 s, until the host gives up
dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct status=none &
ddpid=$!
wait_stat held_commands $((held0 + 1)) 30 || fail "the read was not held"
wait_gone $ddpid 120 || fail "a read held for 3 s did not end"
wait $ddpid && fail "a read aborted after hold_ms succeeded"
[ $(($(stat_of errors) - err0)) -ge 1 ] || fail "no held read was aborted"
msg "loop: hold_ms 1000 ended $(($(stat_of held_commands) - held0)) held tries of a read with an error"

# --- loop: a disconnect waits for a held read, which the rule releases ---
# The hold (300 s) lasts far longer than the test waits (its deadlines
# only guard against a hang): only disabling the rule can end it. The
# disconnect must still wait seconds after it started (the host's
# controller is "deleting"), and return once the rule is off; the read it
# waited for was held once, executed and succeeded.
write_attr "$r/enable" 0
write_attr "$r/hold_ms" 300000 || fail "hold_ms 300000"
write_attr "$r/enable" 1
ctrl=/sys/class/nvme/$(basename "$(readlink -f "/sys/block/${DEV#/dev/}/device")")
[ -f "$ctrl/state" ] || fail "no controller state for $DEV ($ctrl)"
held0=$(stat_of held_commands)
err0=$(stat_of errors)
dd if="$DEV" of=/dev/null bs=4096 count=1 iflag=direct status=none &
ddpid=$!
wait_stat held_commands $((held0 + 1)) 30 || fail "the read was not held"
nvme disconnect -n testnqn.hold2 >/dev/null &
dpid=$!
cleanup_add "kill $dpid 2>/dev/null"
# "deleting", or "deleting (no IO)" once it removes the namespaces
end=$((SECONDS + 60))
while [[ $(cat "$ctrl/state" 2>/dev/null) != deleting* ]] && [ $SECONDS -le $end ]; do
	kill -0 $dpid 2>/dev/null || break
	sleep 0.1
done
t0=$SECONDS
kill -0 $dpid 2>/dev/null || fail "the disconnect returned under a held read, before the rule was disabled"
st=$(cat "$ctrl/state" 2>/dev/null)
[[ $st == deleting* ]] || fail "the disconnect did not start deleting the controller (state '${st:-gone}')"
sleep 5
kill -0 $dpid 2>/dev/null || fail "the disconnect returned under a held read, before the rule was disabled"
kill -0 $ddpid 2>/dev/null || fail "the held read ended before the rule was disabled"
st=$(cat "$ctrl/state" 2>/dev/null)
[[ $st == deleting* ]] || fail "the controller is '${st:-gone}' under a held read, not deleting"
[ $(($(stat_of held_commands) - held0)) -eq 1 ] ||
	fail "$(($(stat_of held_commands) - held0)) holds, expected the read held once"
msg "loop: the disconnect still waits $((SECONDS - t0)) s later, controller $st, the read held"
write_attr "$r/enable" 0
t0=$SECONDS end=$((SECONDS + 120))
while kill -0 $dpid 2>/dev/null && [ $SECONDS -le $end ]; do sleep 0.2; done
kill -0 $dpid 2>/dev/null && fail "the disconnect still waits 120 s after the rule was disabled"
wait $dpid || fail "the disconnect failed"
wait_gone $ddpid 10 || fail "the held read outlived the disconnect"
wait $ddpid || fail "the read released by the rule failed"
[ $(($(stat_of held_commands) - held0)) -eq 1 ] ||
	fail "$(($(stat_of held_commands) - held0)) holds of one read"
[ "$(stat_of errors)" = "$err0" ] || fail "$(($(stat_of errors) - err0)) errors: the held read was aborted"
msg "loop: rule disabled, the held read executed and the disconnect returned ($((SECONDS - t0)) s)"
msg "held_commands $(stat_of held_commands), errors $(stat_of errors)"
