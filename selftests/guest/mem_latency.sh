#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Latency injection over nvme-loop and nvme-tcp: with latency_ns set, no
# command completes earlier than the delay (fio's minimum completion
# latency is at least latency_ns, with and without latency_range_ns) and
# the stats count every delayed command; with it back at 0, commands are
# no longer delayed. This asserts a lower bound only, which a timer can
# never undercut: how close the delay comes is for make bench. Teardown
# with commands still delayed: disabling the namespace (loop) and a host
# disconnect (tcp, which deletes the target's queues) wait for the timers
# and complete; the kernel log and kmemleak stay clean.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj lat0 16M 4096
o=$MEMCFS/lat0

stat_of() { sed -n "s/^$1 //p" "$o/stats"; }

# min_clat RW N: fio's minimum completion latency in ns over N I/Os of 4 KiB
# at queue depth 1
min_clat() {
	fio --name=lat --filename="$DEV" --rw="$1" --bs=4k --iodepth=1 --ioengine=psync \
		--direct=1 --number_ios="$2" --size=16M --output-format=json 2>/dev/null |
		python3 -c 'import json, sys
j = json.load(sys.stdin)["jobs"][0]
d = j["read"] if j["read"]["io_bytes"] else j["write"]
print(d["clat_ns"]["min"] if d["total_ios"] else -1)'
}

# check_delay RW MIN_NS: 20 commands, none completed in under MIN_NS; sets
# GOT to fio's minimum completion latency. Called in the test's own shell
# (not in a command substitution), so that its `fail` ends the test.
check_delay() {
	local before
	before=$(stat_of delayed_commands)
	GOT=$(min_clat "$1" 20) || fail "fio $1"
	[[ $GOT =~ ^[0-9]+$ ]] || fail "fio $1: no completion latency ($GOT)"
	[ "$GOT" -ge "$2" ] || fail "$1 completed after $GOT ns, under latency $2 ns"
	[ $(($(stat_of delayed_commands) - before)) -ge 20 ] ||
		fail "delayed_commands rose by $(($(stat_of delayed_commands) - before)) for 20 ${1}s"
}

n=0
for tr in loop tcp; do
	n=$((n + 1))
	nqn=testnqn.lat$n
	new_subsys $nqn
	new_ns $nqn 1
	mem_ns $nqn 1 lat0
	export_port $tr $nqn $((80 + n))
	connect_port $tr $nqn $((80 + n))
	dd if=/dev/urandom of="$DEV" bs=1M count=16 oflag=direct status=none || fail "fill"

	write_attr "$o/latency_ns" 20000000 || fail "latency_ns 20 ms"
	check_delay randread 20000000
	r=$GOT
	check_delay randwrite 20000000
	w=$GOT
	msg "$tr: latency_ns 20 ms: min read $r ns, min write $w ns"
	write_attr "$o/latency_ns" 2000000
	write_attr "$o/latency_range_ns" 8000000 || fail "latency_range_ns 8 ms"
	check_delay randread 2000000
	r=$GOT
	msg "$tr: latency 2-10 ms: min read $r ns"
	write_attr "$o/latency_ns" 0
	write_attr "$o/latency_range_ns" 0
	before=$(stat_of delayed_commands)
	min_clat randread 20 >/dev/null || fail "fio without latency"
	[ "$(stat_of delayed_commands)" = "$before" ] || fail "commands delayed with latency 0"

	# teardown with commands delayed by 2 s
	write_attr "$o/latency_ns" 2000000000
	fio --name=held --filename="$DEV" --rw=randwrite --bs=4k --iodepth=16 --ioengine=libaio \
		--direct=1 --size=16M --time_based --runtime=10 >/dev/null 2>&1 &
	fpid=$!
	cleanup_add "kill $fpid 2>/dev/null"
	before=$(stat_of delayed_commands)
	for i in $(seq 1 300); do
		[ $(($(stat_of delayed_commands) - before)) -ge 16 ] && break
		sleep 0.1
	done
	held=$(($(stat_of delayed_commands) - before))
	[ "$held" -ge 16 ] || fail "$tr: only $held commands delayed under fio at queue depth 16"
	t0=$(date +%s)
	if [ $tr = loop ]; then
		write_attr "$CFS/subsystems/$nqn/namespaces/1/enable" 0 || fail "disable under delayed I/O"
		what="namespace disabled"
	else
		nvme disconnect -n $nqn >/dev/null || fail "disconnect under delayed I/O"
		what="host disconnected"
	fi
	msg "$tr: $what with $held or more commands delayed by 2 s: returned after $(($(date +%s) - t0)) s"
	wait_gone $fpid 60 || fail "fio still running after teardown"
	write_attr "$o/latency_ns" 0
	[ "$(stat_of delays_failed)" = 0 ] || fail "$(stat_of delays_failed) delays failed"
	[ $tr = loop ] && nvme disconnect -n $nqn >/dev/null
done
msg "delayed_commands $(stat_of delayed_commands), delays_failed $(stat_of delays_failed)"
