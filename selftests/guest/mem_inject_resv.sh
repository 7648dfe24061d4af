#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# An injection rule counts only the commands that reach the backend. Two
# hosts (distinct host NQNs and IDs, one loop port each) connect to one mem
# namespace with reservations enabled; the first takes a Write Exclusive
# reservation. A write from the second is refused by nvmet after the
# backend parsed it: it must fail with Reservation Conflict, not with the
# rule's status, and leave the rule's count and hits alone. The first
# host's next write then takes the rule's one failure, and the one after
# it succeeds.
. "$(dirname "$0")/../lib.sh"
load_mem
nqn=testnqn.resv
new_mem_obj resv0 16M 4096
new_subsys $nqn
new_ns $nqn 1
write_attr "$CFS/subsystems/$nqn/namespaces/1/resv_enable" 1 || fail "resv_enable"
mem_ns $nqn 1 resv0
# one loop port per host, told apart by traddr: nvme-cli refuses a
# second connection to the same transport address and subsystem
for h in 1 2; do
	p=$CFS/ports/8$((4 + h))
	mkdir "$p" || fail "mkdir port $p"
	cleanup_add "rmdir '$p'"
	write_attr "$p/addr_trtype" loop
	write_attr "$p/addr_traddr" "$h"
	ln -s "$CFS/subsystems/$nqn" "$p/subsystems/$nqn" || fail "link $nqn to port $p"
	cleanup_add "rm -f '$p/subsystems/$nqn'"
done
cleanup_add "nvme disconnect -n '$nqn' >/dev/null"

# host_dev HOSTNQN: set DEV to nsid 1 of $nqn on the controller of HOSTNQN
host_dev() {
	local c d i
	for i in $(seq 1 100); do
		for c in /sys/class/nvme/nvme*; do
			[ "$(cat "$c/subsysnqn" 2>/dev/null)" = $nqn ] || continue
			[ "$(cat "$c/hostnqn" 2>/dev/null)" = "$1" ] || continue
			for d in "$c"/nvme*n*; do
				[ "$(cat "$d/nsid" 2>/dev/null)" = 1 ] || continue
				DEV=/dev/$(basename "$d")
				mknod_dev "/sys/block/$(basename "$d")"
				return 0
			done
		done
		sleep 0.1
	done
	fail "no block device for nsid 1 of $nqn for host $1"
}
devs=()
for h in 1 2; do
	id=$(cat /proc/sys/kernel/random/uuid)
	hostnqn=nqn.2014-08.org.nvmexpress:uuid:$id
	nvme connect -t loop -a "$h" -n $nqn --hostnqn="$hostnqn" --hostid="$id" >/dev/null ||
		fail "connect host $h"
	host_dev "$hostnqn"
	devs+=("$DEV")
done
[ "${devs[0]}" != "${devs[1]}" ] || fail "both hosts see ${devs[0]}"
msg "host 1: ${devs[0]}, host 2: ${devs[1]}"

nvme resv-register "${devs[0]}" --nrkey=0x1 --rrega=0 >/dev/null || fail "host 1 registers"
nvme resv-acquire "${devs[0]}" --crkey=0x1 --rtype=1 --racqa=0 >/dev/null ||
	fail "host 1 acquires Write Exclusive"

rule=$MEMCFS/resv0/r0
mkdir "$rule" || fail "mkdir rule"
cleanup_add "rmdir '$rule'"
write_attr "$rule/commands" write
write_attr "$rule/status" 0x4280
write_attr "$rule/count" 1
write_attr "$rule/enable" 1 || fail "enable rule"

buf=$(mktemp)
cleanup_add "rm -f '$buf'"
head -c 4096 /dev/urandom >"$buf"
nvme_write() {
	nvme write "$1" --start-block=0 --block-count=0 --data-size=4096 --data="$buf" 2>&1
}

out=$(nvme_write "${devs[1]}") && fail "host 2 wrote under host 1's reservation: $out"
grep -qE "Reservation Conflict|\(0x[04]?83\)" <<<"$out" ||
	fail "host 2's write: expected Reservation Conflict, got: $out"
[ "$(cat "$rule/hits")" = 0 ] || fail "the refused write hit the rule: hits $(cat "$rule/hits")"
[ "$(cat "$rule/count")" = 1 ] || fail "the refused write used the rule's count: $(cat "$rule/count") left"
msg "host 2: Reservation Conflict; the rule: hits 0, count 1"

out=$(nvme_write "${devs[0]}") && fail "host 1's write did not take the rule's failure: $out"
grep -qE "Write Fault|\(0x[46]280\)" <<<"$out" || fail "host 1's write: expected Write Fault, got: $out"
[ "$(cat "$rule/hits")" = 1 ] || fail "hits $(cat "$rule/hits") after the rule's failure"
nvme_write "${devs[0]}" >/dev/null || fail "host 1's write after the rule's count failed"
msg "host 1: one Write Fault, then a write that succeeds"
nvme resv-release "${devs[0]}" --crkey=0x1 --rtype=1 --rrela=0 >/dev/null || fail "release"
