#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# configfs bad input, for every attribute of a memory object, the
# subsystem's features, reserve_memory and debug_nodata_unzeroed files,
# and the namespace attributes the backend adds or interprets (backend,
# device_path, enable):
# malformed, negative, overflowing and huge numbers, units where none are
# taken, empty and white-space-only values, non-ASCII white space, NUL
# bytes, non-UTF-8, writes to read-only files, binding errors, and every
# change while the object is bound. Each is rejected with the right errno
# and (for what the module parses) a kernel log line, unless the rate limit
# of those lines left it out, and leaves every attribute exactly as it was. Then the accepted forms, objects with odd
# names, and a cap below what is allocated.
. "$(dirname "$0")/../lib.sh"
load_mem
obj=$MEMCFS/bad0
new_mem_obj bad0 4608          # 9 blocks of 512: not a multiple of 4096
new_mem_obj bad1 1M
new_mem_obj rl0 1M
rule=$MEMCFS/rl0/r0
mkdir "$rule" || fail "mkdir rule"
cleanup_add "rmdir '$rule'"
new_subsys testnqn.bad
new_ns testnqn.bad 1
new_ns testnqn.bad 2
ns1=$CFS/subsystems/testnqn.bad/namespaces/1
ns2=$CFS/subsystems/testnqn.bad/namespaces/2

# Each case runs without starting a process (a fork costs much in a TCG
# guest): the writes and reads are the shell's builtins, and the kernel log
# is read once at the end, cut into cases by a mark that each case writes
# to it.
errf=$(mktemp)
cleanup_add "rm -f '$errf'"
# put FILE VALUE [raw]: write VALUE and a newline (raw: printf's expansion
# of VALUE, such as \0 and \xff, no newline); ERR: the error message
put() {
	local rc
	if [ "${3:-}" = raw ]; then
		# shellcheck disable=SC2059 # the format is the value
		{ printf "$2" >"$1"; } 2>"$errf"
	else
		{ echo "$2" >"$1"; } 2>"$errf"
	fi
	rc=$?
	ERR=
	[ $rc = 0 ] || IFS= read -r ERR <"$errf"
	return $rc
}
# the debug kernel's test hook, if any
hooks=()
[ ! -e "$MEMCFS/debug_nodata_unzeroed" ] || hooks=("$MEMCFS/debug_nodata_unzeroed")
# state: STATE holds every attribute of both objects and both namespaces
state() {
	local f v
	STATE=
	for f in "$MEMCFS"/features "$MEMCFS"/reserve_memory "${hooks[@]}" "$obj"/* "$MEMCFS"/bad1/* "$rule"/* \
		"$ns1"/{backend,device_path,enable} "$ns2"/{backend,device_path,enable}; do
		v=
		IFS= read -r v <"$f"
		STATE+="$f=$v"$'\n'
	done
}

n=0 mark="nvmet-mem-bad-input-$$-case-" logged=()
# check ERRNO FILE VALUE [raw|nolog]: the write fails with ERRNO, logs
# (unless nolog: nvmet's own parsing, which logs nothing), changes nothing.
check() {
	local want=$1 file=$2 val=$3 how=${4:-} before shown
	n=$((n + 1))
	if [ ${#val} -le 40 ]; then printf -v shown '%q' "$val"
	else printf -v shown '%q... (%d bytes)' "${val:0:12}" ${#val}; fi
	shown="${file#/sys/kernel/config/} <- $shown"
	state
	before=$STATE
	echo "$mark$n" >/dev/kmsg
	if put "$file" "$val" "$how"; then
		fail "case $n ($shown) succeeded, expected $want"
	fi
	errno_matches "$want" "$ERR" ||
		fail "case $n ($shown) failed with '$ERR', expected $want"
	state
	[ "$before" = "$STATE" ] || fail "case $n ($shown) changed state"
	case "$how:$want:$file" in
	nolog:* | *:EACCES:* | *:EBUSY:$CFS/*) ;; # nvmet's own checks; permission bits
	*) logged+=("$n") ;;
	esac
	msg "case $n: $shown: $want"
}
case_() { check "$1" "$2" "$3" "${4:-}"; } # VALUE, then a newline
raw_() { check "$1" "$2" "$3" raw; }      # printf FORMAT, no newline
# digits N: a number of N digits
digits() { printf '9%.0s' $(seq 1 "$1"); }

# size: bytes, a multiple of blocksize, at most RAM
for v in abc "" " " $'\t' 0 -0 -4096 +4096 1000 12Q 1.5G 0x1000 1e6 \
	"4096 4096" "4 096" 4KB 4KiB K 99999999999T 18446744073709551616 \
	17179869184G 16777216T 18446744073709551615 "$(digits 5000)" \
	$'\xff' $'4096\xff' $'4096\xc2\xa0' $'\xe3\x80\x804096'; do
	case_ EINVAL "$obj/size" "$v"
done
raw_ EINVAL "$obj/size" '4096\0'
raw_ EINVAL "$obj/size" '\0'
raw_ EINVAL "$obj/size" '4096\0009'
# above what nvmet can serve (a loff_t of bytes)
for v in 16777215T 18446744073709551104 9223372036854775808; do
	case_ EINVAL "$obj/size" "$v"
done
# above RAM without a max_memory cap
case_ ENOMEM "$obj/size" 1T

# blocksize: 512 or 4096, size a multiple of it
for v in 1024 0 -512 +1024 512.0 0x200 4k "" abc 4096 4294967808 \
	"$(digits 20)" $'\xff' $'512\xc2\xa0'; do
	case_ EINVAL "$obj/blocksize" "$v"
done
raw_ EINVAL "$obj/blocksize" '512\0'

# numa_node: -1 or an online node (the guest has node 0 only)
for v in 7 -2 x "" 1024 2147483647 2147483648 -2147483649 \
	9223372036854775808 0x0 0.0 $'\xff' $'0\xc2\xa0'; do
	case_ EINVAL "$obj/numa_node" "$v"
done

# max_memory: bytes, a multiple of the page size, at most RAM
for v in 5000 4097 abc "" -4096 1.5M 99999999999T 18446744073709551616 \
	"$(digits 5000)" $'\xff' $'4K\xc2\xa0'; do
	case_ EINVAL "$obj/max_memory" "$v"
done
for v in 1T 18446744073709547520; do
	case_ ENOMEM "$obj/max_memory" "$v"
done

# nodata: 0 or 1
for v in 2 -1 yes true on "" 1.0 0x1 "$(digits 20)" $'\xff'; do
	case_ EINVAL "$obj/nodata" "$v"
done

# nowait: 0 or 1
for v in 2 -1 yes off "" 0x0 "$(digits 20)"; do
	case_ EINVAL "$obj/nowait" "$v"
done

# debug_nodata_unzeroed (module-wide test hook): 0 or 1. Kernels with
# fault injection's debugfs (the debug kernel) have it; others must not.
hook=$MEMCFS/debug_nodata_unzeroed
if [ -d /sys/kernel/debug/failslab ]; then
	[ -e "$hook" ] || fail "no $hook on a kernel with FAULT_INJECTION_DEBUG_FS"
	for v in 2 -1 yes on "" 1.0 0x1 "$(digits 20)" $'\xff' $'1\xc2\xa0'; do
		case_ EINVAL "$hook" "$v"
	done
	raw_ EINVAL "$hook" '1\0'
	[ "$(cat "$hook")" = 0 ] || fail "debug_nodata_unzeroed reads $(cat "$hook") after bad writes"
else
	[ ! -e "$hook" ] || fail "$hook on a kernel without FAULT_INJECTION_DEBUG_FS"
fi

# latency_ns, latency_range_ns: nanoseconds, at most 10 s each
for a in latency_ns latency_range_ns; do
	for v in abc "" -1 1.5 10000000001 99999999999999999999 "$(digits 5000)" $'\xff' 1ms; do
		case_ EINVAL "$obj/$a" "$v"
	done
done

# reserve_memory (module-wide): bytes, at most RAM
for v in abc "" " " -1 -4096 1.5G 0x1000 4KB 1T 99999999999T \
	18446744073709551616 "$(digits 5000)" $'\xff' $'4K\xc2\xa0'; do
	case_ EINVAL "$MEMCFS/reserve_memory" "$v"
done
raw_ EINVAL "$MEMCFS/reserve_memory" '4096\0'
# accepted: rounded up to whole pages; restored
res=$(cat "$MEMCFS/reserve_memory")
cleanup_add "echo $res > '$MEMCFS/reserve_memory'"
put "$MEMCFS/reserve_memory" 4097 || fail "reserve_memory 4097: $ERR"
[ "$(cat "$MEMCFS/reserve_memory")" = 8192 ] || fail "reserve_memory 4097 reads $(cat "$MEMCFS/reserve_memory")"
put "$MEMCFS/reserve_memory" "$res" || fail "restoring reserve_memory: $ERR"

# error injection rules: commands, LBAs, status, count, probability, hold_ms
for v in "" reads READ "read," ",read" "read,,write" "read write" none 1 $'\xff'; do
	case_ EINVAL "$rule/commands" "$v"
done
for a in lba_start lba_count; do
	for v in "" -1 abc 1.5 0x 18446744073709551616 $'\xff'; do
		case_ EINVAL "$rule/$a" "$v"
	done
done
# status: SCT and SC, DNR allowed; not success, no More/CRD bits, 16 bits
for v in 0 0x4000 0x8281 0x2281 0x0800 0x10000 -1 abc ""; do
	case_ EINVAL "$rule/status" "$v"
done
for v in -2 abc "" 1.5 9223372036854775808; do
	case_ EINVAL "$rule/count" "$v"
done
for v in 0 101 -1 abc "" 50%; do
	case_ EINVAL "$rule/probability" "$v"
done
for v in 2 -1 yes ""; do
	case_ EINVAL "$rule/enable" "$v"
done
for v in -1 yes "" 1.5 3600001 18446744073709551616 1s; do
	case_ EINVAL "$rule/hold_ms" "$v"
done
case_ EINVAL "$rule/enable" 1          # no status (or hold_ms) yet
case_ EACCES "$rule/hits" 0
# an enabled rule refuses changes
write_attr "$rule/status" 0x4281 || fail "rule status"
write_attr "$rule/enable" 1 || fail "rule enable"
for a in "commands read" "lba_start 8" "lba_count 8" "status 0x6" "count 3" \
	"probability 50" "hold_ms 1000"; do
	set -- $a
	case_ EBUSY "$rule/$1" "$2"
done
write_attr "$rule/enable" 0 || fail "rule disable"
mkdir "$MEMCFS/rl0/r1" || fail "mkdir rule r1"
rmdir "$MEMCFS/rl0" 2>/dev/null && fail "rmdir of an object with a rule"
rmdir "$MEMCFS/rl0/r1" || fail "rmdir rule r1"

# read-only files
case_ EACCES "$obj/allocated" 0
case_ EACCES "$obj/allocated" ""
case_ EACCES "$MEMCFS/features" x

# backend: a registered backend's name, exactly
for v in bogus MEM "mem " " mem" mem0 $'\xff'; do
	case_ EINVAL "$ns1/backend" "$v"
done
# device_path and enable are nvmet's: empty paths and non-booleans
case_ EINVAL "$ns1/device_path" "" nolog
for v in 2 maybe ""; do
	case_ EINVAL "$ns1/enable" "$v" nolog
done

# binding errors: device_path must name an object exactly
write_attr "$ns1/backend" mem
long=$(printf 'x%.0s' $(seq 1 4000))
for p in nosuchobject "bad1 " " bad1" BAD1 bad bad1x ../bad1 bad1/ \
	$'bad1\xff' "$long"; do
	write_attr "$ns1/device_path" "$p" || fail "device_path $(printf '%q' "$p")"
	case_ ENOENT "$ns1/enable" 1
done
mkdir "$MEMCFS/nosize" || fail "mkdir nosize"
cleanup_add "rmdir '$MEMCFS/nosize'"
write_attr "$ns1/device_path" nosize
case_ EINVAL "$ns1/enable" 1
write_attr "$ns1/device_path" bad1
write_attr "$ns1/enable" 1 || fail "enable on bad1"
write_attr "$ns2/backend" mem
write_attr "$ns2/device_path" bad1
case_ EBUSY "$ns2/enable" 1

# changes while bound, valid or not, to other values or the same (size
# is the exception: it resizes the namespace, see mem_resize)
for a in "blocksize 4096" "blocksize 512" \
	"numa_node 0" "numa_node -1" "max_memory 1M" "max_memory 0" \
	"nodata 1" "nodata 0" "nowait 0" "nowait 1"; do
	set -- $a
	case_ EBUSY "$MEMCFS/bad1/$1" "$2"
done
case_ EINVAL "$MEMCFS/bad1/size" abc
case_ EINVAL "$MEMCFS/bad1/blocksize" 1024
case_ EACCES "$MEMCFS/bad1/allocated" 0
case_ EBUSY "$ns1/backend" ""
case_ EBUSY "$ns1/backend" mem
case_ EBUSY "$ns1/device_path" bad0
case_ EBUSY "$ns1/device_path" bad1
state
before=$STATE
write_attr "$ns1/enable" 1 || fail "enable of an enabled namespace"
state
[ "$before" = "$STATE" ] || fail "enable of an enabled namespace changed state"
write_attr "$ns1/enable" 0

# what is accepted: surrounding ASCII white space, suffixes in either case
ok() { # ok FILE VALUE READBACK
	local v
	put "$1" "$2" || fail "${1#"$MEMCFS"/} <- '$2' refused: $ERR"
	IFS= read -r v <"$1"
	[ "$v" = "$3" ] || fail "${1#"$MEMCFS"/} <- '$2' reads back $v, expected $3"
}
o=$MEMCFS/bad1
ok "$o/size" " 8192 " 8192
ok "$o/size" $'\t4k' 4096
ok "$o/size" 2m 2097152
ok "$o/size" 1G 1073741824
ok "$o/size" 1M 1048576
ok "$o/blocksize" " 4096" 4096
ok "$o/blocksize" 512 512
ok "$o/numa_node" 0 0
ok "$o/numa_node" " -1 " -1
ok "$o/max_memory" 8k 8192
ok "$o/max_memory" 0 0
ok "$o/nodata" " 1" 1
ok "$o/nodata" 0 0
ok "$o/nowait" " 0" 0
ok "$o/nowait" 1 1
ok "$o/latency_ns" " 10000000000" 10000000000
ok "$o/latency_ns" 0x10 16
ok "$o/latency_ns" 0 0
ok "$o/latency_range_ns" 5000 5000
ok "$o/latency_range_ns" 0 0
msg "accepted forms read back normalised"

# objects with odd names (non-UTF-8, longer than configfs' inline name)
# bind by exactly those bytes
for name in $'odd\xff\xfe' "$(printf 'n%.0s' $(seq 1 200))"; do
	mkdir "$MEMCFS/$name" || fail "mkdir $(printf '%q' "$name")"
	write_attr "$MEMCFS/$name/size" 1M || fail "size of $(printf '%q' "$name")"
	write_attr "$ns2/device_path" "$name"
	write_attr "$ns2/enable" 1 || fail "enable on $(printf '%q' "$name")"
	expect_errno EBUSY try_write "$MEMCFS/$name/blocksize" 4096
	write_attr "$ns2/enable" 0
	rmdir "$MEMCFS/$name" || fail "rmdir $(printf '%q' "$name")"
done
msg "objects with a non-UTF-8 and a 200-byte name bind"

# a cap below what is allocated
export_loop testnqn.bad 21
write_attr "$ns1/enable" 1
connect_loop testnqn.bad
dd if=/dev/urandom of="$DEV" bs=64k count=4 oflag=direct status=none || fail "write"
[ "$(cat "$MEMCFS/bad1/allocated")" = 262144 ] || fail "allocated after 256 KiB"
nvme disconnect -n testnqn.bad >/dev/null
write_attr "$ns1/enable" 0
case_ EINVAL "$MEMCFS/bad1/max_memory" 128K

# The reasons are rate-limited (10 in 5 s, module-wide): a flood of 50
# refused writes logs at most 10 of them, and the first refusal once the
# interval has passed reports how many were left out, then logs its own.
echo "${mark}flood" >/dev/kmsg
for _ in $(seq 50); do
	{ echo abc >"$obj/size"; } 2>/dev/null && fail "a flood write of size succeeded"
done
echo "${mark}after" >/dev/kmsg
sleep 6
{ echo abc >"$obj/size"; } 2>/dev/null && fail "a write of size succeeded after the flood"
# every case that the module or nvmet refused after parsing logged a line
# (at level err or warn), or was left out by the rate limit and counted
read -r missing quiet left flood last <<<"$(dmesg -x | awk -v mark="$mark" -v need="${logged[*]}" '
	BEGIN { split(need, l, " "); for (i in l) want[l[i]] = 1 }
	index($0, mark) { c = substr($0, index($0, mark) + length(mark)); seen[c] = 1; next }
	/nvmet_mem: refusals: [0-9]+ callbacks suppressed/ {
		n = $0; sub(/.*refusals: /, "", n); sub(/ .*/, "", n)
		left += n; if (c == "flood" || c == "after") last += n; next }
	c != "" && /:(err|warn) *:.*nvmet(_mem)?: / { got[c] = 1; if (c == "flood") flood++; if (c == "after") after = 1 }
	END {
		for (k in want) if (!(k in got)) { quiet++; if (!(k in seen)) lost = lost k "," }
		printf "%s %d %d %d %d\n", (lost == "" ? "-" : lost), quiet, left, flood, (after ? last + 0 : -1) }')"
[ "$missing" = - ] || fail "marks lost for case(s) $missing"
[ "$flood" -le 10 ] || fail "a flood of 50 refused writes logged $flood reasons: not rate-limited"
[ "$last" -ge 0 ] || fail "the first refusal after the flood logged no reason"
[ "$last" -ge $((50 - flood)) ] ||
	fail "the flood's reasons left out were reported as $last, not at least $((50 - flood))"
[ "$quiet" -le $((left - 50 + flood)) ] ||
	fail "$quiet cases logged no reason, but the rate limit left out only $((left - 50 + flood)) of theirs"
msg "$n bad inputs rejected, $((${#logged[@]} - quiet)) with a kernel log line, $quiet left out by the rate limit; a flood of 50 logged $flood"
[ $n -ge 120 ] || fail "only $n cases"
