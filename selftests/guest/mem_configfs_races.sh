#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# configfs under concurrency:
# - two writers each on every attribute of an object (valid values, and
#   on size values that blocksize makes invalid, with blocksize changing
#   under them): each write takes effect whole or fails with EINVAL, and the
#   object ends valid (size a multiple of blocksize, each attribute one of
#   the values written); a namespace then binds with exactly that geometry;
# - writes to every attribute racing namespace enable/disable: they fail
#   only with EBUSY (size never: it resizes a bound namespace), and the
#   object ends with values written;
# - rmdir of an object while its namespace is enabled and under I/O (dd
#   writing fresh ranges and reading them back): rmdir succeeds, the name
#   is free at once (not bindable, can be created again, fresh), the I/O
#   goes on with every range read back intact, and the removed object's
#   pages are freed when the namespace is disabled.
#   mem_configfs_races.sh [ITERATIONS]   (default 100)
. "$(dirname "$0")/../lib.sh"
iters=${1:-100}
load_mem
new_mem_obj cr0 1M
new_subsys testnqn.cr
new_ns testnqn.cr 1
new_ns testnqn.cr 2
ns1=$CFS/subsystems/testnqn.cr/namespaces/1
ns2=$CFS/subsystems/testnqn.cr/namespaces/2
o=$MEMCFS/cr0
tmp=$(mktemp -d)
cleanup_add "rm -rf '$tmp'"

# writer ID FILE VALUE...: write the values in turn, $iters rounds, with
# the shell's builtin echo (no fork per write); failures go to $tmp/ID.err
# (one line each, with the errno's message), successes are counted in
# $tmp/ID.ok
writer() {
	local id=$1 file=$2 i v ok=0
	shift 2
	for ((i = 0; i < iters; i++)); do
		for v in "$@"; do
			echo "$v" >"$file" 2>>"$tmp/$id.err" && ok=$((ok + 1))
		done
	done
	echo $ok >"$tmp/$id.ok"
}
# errors_only ID PATTERN: every failure of writer ID matches PATTERN
errors_only() {
	[ ! -s "$tmp/$1.err" ] || ! grep -v -E "$2" "$tmp/$1.err" >/dev/null ||
		fail "writer $1: $(grep -v -E "$2" "$tmp/$1.err" | sort | uniq -c | head -n 3)"
}
nfail() { [ -f "$tmp/$1.err" ] && wc -l <"$tmp/$1.err" || echo 0; }

# 1. two writers per attribute, all at once; sizes of 4608 and 9216 bytes
# are not multiples of 4096
writer size_a "$o/size" 4608 8192 &
writer size_b "$o/size" 1M 9216 &
writer bs_a "$o/blocksize" 512 4096 &
writer bs_b "$o/blocksize" 4096 512 &
writer node_a "$o/numa_node" 0 -1 &
writer node_b "$o/numa_node" -1 0 &
writer cap_a "$o/max_memory" 4M 0 &
writer cap_b "$o/max_memory" 8M 4M &
writer nd_a "$o/nodata" 1 0 &
writer nd_b "$o/nodata" 0 1 &
wait
for w in size_a size_b bs_a bs_b; do
	errors_only $w "Invalid argument"
	[ "$(cat "$tmp/$w.ok")" -gt 0 ] || fail "writer $w never succeeded"
done
for w in node_a node_b cap_a cap_b nd_a nd_b; do
	[ "$(nfail $w)" = 0 ] || fail "writer $w: $(sort "$tmp/$w.err" | uniq -c | head -n 3)"
done
size=$(cat "$o/size") bs=$(cat "$o/blocksize")
case $size in 4608 | 8192 | 1048576 | 9216) ;; *) fail "size $size was never written" ;; esac
case $bs in 512 | 4096) ;; *) fail "blocksize $bs" ;; esac
[ $((size % bs)) = 0 ] || fail "size $size is not a multiple of blocksize $bs"
case $(cat "$o/numa_node") in 0 | -1) ;; *) fail "numa_node $(cat "$o/numa_node")" ;; esac
case $(cat "$o/max_memory") in 0 | 4194304 | 8388608) ;; *) fail "max_memory" ;; esac
case $(cat "$o/nodata") in 0 | 1) ;; *) fail "nodata $(cat "$o/nodata")" ;; esac
rej=0
for w in size_a size_b bs_a bs_b; do rej=$((rej + $(nfail $w))); done
msg "10 writers x $iters rounds: $rej writes refused for size/blocksize," \
	"object ends with size $size, blocksize $bs"
# the namespace binds with exactly the geometry configfs shows (as its
# enable logs it: no host needed)
write_attr "$o/nodata" 0
log_mark
mem_ns testnqn.cr 1 cr0
log_since | grep -q "nsid 1: serving \"cr0\": $((size / bs)) blocks of $bs bytes\$" ||
	fail "namespace geometry: $(log_since | grep serving), object size $size, blocksize $bs"
write_attr "$ns1/enable" 0

# 2. writes to every attribute racing namespace enable/disable (half the
# rounds: an enable costs much more than a write)
write_attr "$o/blocksize" 512
write_attr "$o/size" 1M
iters=$((iters / 2))
toggler() {
	local i ok=0
	for ((i = 0; i < iters; i++)); do
		echo 1 >"$ns1/enable" 2>>"$tmp/en.err" && ok=$((ok + 1))
		echo 0 >"$ns1/enable" 2>>"$tmp/en.err"
	done
	echo $ok >"$tmp/en.ok"
}
toggler &
writer bsize "$o/size" 2M 1M &
writer bbs "$o/blocksize" 4096 512 &
writer bnode "$o/numa_node" 0 -1 &
writer bcap "$o/max_memory" 4M 0 &
writer bnd "$o/nodata" 1 0 &
wait
[ "$(nfail en)" = 0 ] || fail "enable/disable: $(sort "$tmp/en.err" | uniq -c | head -n 3)"
busy=0
for w in bsize bbs bnode bcap bnd; do
	errors_only $w "busy"
	busy=$((busy + $(nfail $w)))
done
case $(cat "$o/size") in 1048576 | 2097152) ;; *) fail "size $(cat "$o/size")" ;; esac
case $(cat "$o/blocksize") in 512 | 4096) ;; *) fail "blocksize" ;; esac
msg "$iters enable/disable cycles racing 5 writers: $busy writes refused with EBUSY, none otherwise"
write_attr "$ns1/enable" 1 || fail "enable after the race"
expect_errno EBUSY try_write "$o/blocksize" 4096
write_attr "$ns1/enable" 0

# 3. rmdir of the object while its namespace is enabled and under I/O:
# rounds of dd writing 8 MiB of random data to a fresh range, reading it
# back and comparing; the rmdir comes once the first round is done
new_mem_obj io0 64M 4096
write_attr "$ns1/device_path" io0
write_attr "$ns1/enable" 1 || fail "enable on io0"
export_loop testnqn.cr 131
connect_loop testnqn.cr
head -c 8M /dev/urandom >"$tmp/pat"
rounds=4
io_rounds() { # one line per round in $tmp/rounds
	local r
	for r in $(seq 1 $rounds); do
		if dd if="$tmp/pat" of="$DEV" bs=64k seek=$((r * 128)) oflag=direct \
			conv=fsync status=none &&
		   dd if="$DEV" of="$tmp/back" bs=64k skip=$((r * 128)) count=128 \
			iflag=direct status=none &&
		   cmp -s "$tmp/pat" "$tmp/back"; then
			echo "round $r ok" >>"$tmp/rounds"
		else
			echo "round $r failed" >>"$tmp/rounds"
			return 1
		fi
	done
}
io_rounds &
io_pid=$!
cleanup_add "kill -9 $io_pid"
for i in $(seq 1 600); do
	[ ! -s "$tmp/rounds" ] || break
	sleep 0.2
done
grep -q "round 1 ok" "$tmp/rounds" || fail "the first round: $(cat "$tmp/rounds")"
rmdir "$MEMCFS/io0" || fail "rmdir of a bound object under I/O"
[ ! -e "$MEMCFS/io0" ] || fail "io0 still in configfs after rmdir"
kill -0 $io_pid 2>/dev/null || fail "the I/O rounds ended before the rmdir completed"
msg "io0 removed during round $(( $(wc -l <"$tmp/rounds") + 1 )) of $rounds"
# the name is free at once: not bindable, and a new object of that name is
# a fresh one, which a second namespace binds to
write_attr "$ns2/backend" mem
write_attr "$ns2/device_path" io0
# (ENOENT is the backend's "no memory object"; the log line that says so
# may be left out by the rate limit of refusal messages)
expect_errno ENOENT try_write "$ns2/enable" 1
new_mem_obj io0 1M
[ "$(cat "$MEMCFS/io0/allocated")" = 0 ] || fail "the new io0 has pages"
write_attr "$ns2/enable" 1 || fail "enable on the new io0"
wait_gone $io_pid 300 || fail "the I/O rounds hang after rmdir"
wait $io_pid || fail "I/O after the rmdir of its object: $(tail -n 1 "$tmp/rounds")"
[ "$(grep -c ok "$tmp/rounds")" = $rounds ] || fail "rounds: $(cat "$tmp/rounds")"
msg "$rounds rounds of 8 MiB written, read back and compared across the rmdir"
nvme disconnect -n testnqn.cr >/dev/null
# the removed object's pages (8 MiB per round) go with the namespace's
# binding, on the table's reap work after the disable and a grace period
# later (mem_reap); counted as pages freed (MemFree would miss those that
# stay on the per-CPU lists), waiting up to 30 s for them
pgfree() { awk '$1 == "pgfree" { print $2 }' /proc/vmstat; }
before=$(pgfree)
write_attr "$ns1/enable" 0
end=$((SECONDS + 30))
while freed=$(( $(pgfree) - before )); [ "$freed" -lt $((rounds * 2048)) ] && [ $SECONDS -le $end ]; do
	sleep 0.2
done
msg "disable freed $freed pages"
[ "$freed" -ge $((rounds * 2048)) ] ||
	fail "disable freed $freed pages, expected the object's $((rounds * 2048))"
write_attr "$ns2/enable" 0
