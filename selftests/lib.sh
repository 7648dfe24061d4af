# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the guest tests: nvmet configfs set-up and tear-down, nvme-loop
# connection, assertions. Each test sources this file, registers its clean-up
# with `cleanup_add`, and exits 0 (pass), 4 (skip) or anything else (fail).

NVMET_MEM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CFS=/sys/kernel/config/nvmet
MEM_KO=${NVMET_MEM_KO:-$NVMET_MEM_TOP/nvmet-mem.ko}
KSFT_SKIP=4

_cleanups=()
cleanup_add() { _cleanups=("$*" "${_cleanups[@]}"); }
_run_cleanups() {
	local c
	for c in "${_cleanups[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
}
trap _run_cleanups EXIT

msg() { echo "# $*"; }
fail() { echo "# FAIL: $*"; exit 1; }
skip() { echo "# SKIP: $*"; exit $KSFT_SKIP; }

# errno_matches ERRNO_NAME MESSAGE: MESSAGE words that errno.
errno_matches() {
	case "$1:$2" in
	EINVAL:*"Invalid argument"* | EBUSY:*"busy"* | EBUSY:*"in use"* | ENODEV:*"No such device"* | \
	ENOENT:*"No such file"* | ENOMEM:*"memory"* | EEXIST:*"exists"* | \
	EACCES:*"ermission denied"*) ;;
	*) return 1 ;;
	esac
}

# expect_errno ERRNO_NAME CMD...: CMD must fail, with the errno's message.
expect_errno() {
	local want=$1 err
	shift
	if err=$("$@" 2>&1); then
		fail "'$*' succeeded, expected $want"
	fi
	errno_matches "$want" "$err" || fail "'$*' failed with '$err', expected $want"
}

# write_attr FILE VALUE: write without a shell redirection error hiding.
write_attr() { printf '%s\n' "$2" >"$1"; }
# try_write FILE VALUE: for expect_errno (bash names the errno on failure).
try_write() { bash -c 'echo "$2" > "$1"' _ "$1" "$2"; }

# log_mark: remember this point of the kernel log; log_since: print the
# kernel log after it (the log is never cleared, so that the harness still
# sees every report at the end of the run).
log_mark() {
	_mark="nvmet-mem-selftest-mark-$$-$RANDOM"
	echo "$_mark" >/dev/kmsg
}
log_since() { dmesg | sed -n "/$_mark/,\$p"; }

# modload MODULE...: modprobe each module that is not loaded yet. modprobe
# takes seconds in the debug guest even for a module that is loaded, and
# most tests load the same few.
modload() {
	local m
	for m in "$@"; do
		[ -d "/sys/module/${m//-/_}" ] || modprobe "$m" || return 1
	done
}

load_nvmet() {
	modload nvmet nvme-loop || fail "modprobe nvmet nvme-loop"
}

mem_loaded() { [ -d /sys/module/nvmet_mem ]; }

load_mem() {
	load_nvmet
	mem_loaded || insmod "$MEM_KO" || fail "insmod $MEM_KO"
}

unload_mem() { ! mem_loaded || rmmod nvmet_mem; }

MEMCFS=/sys/kernel/config/nvmet_mem

# new_mem_obj NAME SIZE [BLOCKSIZE]: a memory object, removed at exit.
new_mem_obj() {
	mkdir "$MEMCFS/$1" || fail "mkdir memory object $1"
	cleanup_add "rmdir '$MEMCFS/$1'"
	[ -z "${3:-}" ] || write_attr "$MEMCFS/$1/blocksize" "$3" || fail "blocksize $3"
	write_attr "$MEMCFS/$1/size" "$2" || fail "size $2"
}

# mem_ns NQN NSID OBJ: make the namespace serve memory object OBJ, enabled.
mem_ns() {
	local ns="$CFS/subsystems/$1/namespaces/$2"
	write_attr "$ns/backend" mem || fail "backend mem"
	write_attr "$ns/device_path" "$3" || fail "device_path $3"
	write_attr "$ns/enable" 1 || fail "enable nsid $2 on $3"
}

# trace_event SUBSYSTEM/EVENT: set TRACEFS to the tracing directory (mounted
# if need be) and EV to the event's; skips if the kernel has no such event.
trace_event() {
	TRACEFS=/sys/kernel/tracing
	[ -d "$TRACEFS/events" ] || mount -t tracefs nodev "$TRACEFS" 2>/dev/null
	EV=$TRACEFS/events/$1
	[ -e "$EV/enable" ] || skip "no $1 trace event (CONFIG_EVENT_TRACING)"
}

# nuse DEV: the namespace's NUSE from Identify Namespace, in decimal.
nuse() { printf '%d\n' "$(nvme id-ns "$1" | sed -n 's/^nuse *: *//p')"; }

# id_fields DEV: the Identify fields that depend on a namespace's backend,
# as "name=value" words: ONCS of the controller; NSFEAT, DLFEAT, NAWUN,
# NAWUPF, NACWU, NPWG, NPWA, NPDG, NPDA, NOWS of the namespace; NSFEAT of
# the I/O Command Set Independent data (ind_nsfeat); "compare" and "verify"
# from the Commands Supported and Effects log (bit 0: supported).
id_fields() {
	python3 - "$1" "${1%n[0-9]*}" <<'PY'
import subprocess, sys
dev, ctrl = sys.argv[1], sys.argv[2]
def raw(*a):
    r = subprocess.run(["nvme", *a, "-b"], capture_output=True)
    if r.returncode or not r.stdout:
        sys.exit("nvme %s: %s" % (" ".join(a), r.stderr.decode().strip()))
    return r.stdout
def le(b, off, n):
    return int.from_bytes(b[off:off + n], "little")
c, ns = raw("id-ctrl", ctrl), raw("id-ns", dev)
nsid = open("/sys/block/%s/nsid" % dev.split("/")[-1]).read().strip()
ind = raw("cmdset-ind-id-ns", dev, "-n", nsid)
# nvme-cli 2.3's effects-log prints nothing for a fabrics controller
log = raw("get-log", ctrl, "--log-id=5", "--log-len=4096")
out = ["oncs=%#x" % le(c, 520, 2), "nsfeat=%d" % ns[24], "dlfeat=%d" % ns[33]]
for name, off in (("nawun", 34), ("nawupf", 36), ("nacwu", 38), ("npwg", 64),
                  ("npwa", 66), ("npdg", 68), ("npda", 70), ("nows", 72)):
    out.append("%s=%d" % (name, le(ns, off, 2)))
out += ["ind_nsfeat=%d" % ind[0], "compare=%d" % (le(log, 1024 + 4 * 0x05, 4) & 1),
        "verify=%d" % (le(log, 1024 + 4 * 0x0c, 4) & 1)]
print(" ".join(out))
PY
}

# expect_id_fields DEV "name=value ...": fail unless id_fields DEV has them.
expect_id_fields() {
	local got want
	got=" $(id_fields "$1") " || fail "identify of $1"
	msg "identify $1: $got"
	for want in $2; do
		[[ $got == *" $want "* ]] || fail "identify of $1: want $want, got:$got"
	done
}

# wait_gone PID SECONDS: wait until the process has exited; false if not.
wait_gone() {
	local i
	for i in $(seq 1 "$2"); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 1
	done
	! kill -0 "$1" 2>/dev/null
}

# new_subsys NQN: an allow-any-host subsystem, removed at exit.
new_subsys() {
	mkdir "$CFS/subsystems/$1" || fail "mkdir subsystem $1"
	cleanup_add "rmdir '$CFS/subsystems/$1'"
	write_attr "$CFS/subsystems/$1/attr_allow_any_host" 1
}

# new_ns NQN NSID: a namespace, disabled and removed at exit.
new_ns() {
	local d="$CFS/subsystems/$1/namespaces/$2"
	mkdir "$d" || fail "mkdir namespace $2"
	cleanup_add "echo 0 > '$d/enable'; rmdir '$d'"
}

# export_loop NQN PORTID: a loop port that exports the subsystem.
export_loop() {
	local p="$CFS/ports/$2"
	mkdir "$p" || fail "mkdir port $2"
	cleanup_add "rmdir '$p'"
	write_attr "$p/addr_trtype" loop
	ln -s "$CFS/subsystems/$1" "$p/subsystems/$1" || fail "link $1 to port $2"
	cleanup_add "rm -f '$p/subsystems/$1'"
}

# find_dev NQN: set DEV to the block device of a namespace of subsystem NQN
# (the first one); false if there is none yet.
find_dev() {
	local d
	for d in /sys/block/nvme*n*; do
		[ -e "$d" ] || continue
		[[ $(basename "$d") =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
		if [ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$1" ]; then
			DEV=/dev/$(basename "$d")
			mknod_dev "$d"
			return 0
		fi
	done
	return 1
}

# dev_of NQN TRANSPORT NSID: set DEV to the block device of namespace NSID
# of NQN on the controller of TRANSPORT (waits up to 10 s). The N of
# nvmeXnN is an instance number, not the NSID: read the NSID.
dev_of() {
	local i d
	for i in $(seq 1 100); do
		for d in /sys/block/nvme*n*; do
			[[ $(basename "$d") =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
			[ "$(cat "$d/nsid" 2>/dev/null)" = "$3" ] || continue
			[ "$(cat "$d/device/subsysnqn" 2>/dev/null)" = "$1" ] || continue
			[ "$(cat "$d/device/transport" 2>/dev/null)" = "$2" ] || continue
			DEV=/dev/$(basename "$d")
			mknod_dev "$d"
			return 0
		done
		sleep 0.1
	done
	fail "no block device for nsid $3 of $1 over $2"
}

# connect_loop NQN: connect the host over nvme-loop; sets DEV to the
# namespace's block device.
connect_loop() {
	local nqn=$1 i
	cleanup_add "nvme disconnect -n '$nqn'"
	nvme connect -t loop -n "$nqn" >/dev/null || fail "nvme connect -t loop -n $nqn"
	for i in $(seq 1 100); do
		find_dev "$nqn" && return 0
		sleep 0.1
	done
	fail "no block device for $nqn"
}

# mknod_dev SYSDIR: make /dev/NAME the block node of /sys/block/NAME. What
# is in the way goes: a stale node of an earlier device of that name (block
# device numbers change across reconnects), or a regular file that a writer
# (fio, dd) created while the device was gone.
mknod_dev() {
	local name mm cur
	name=$(basename "$1") mm=$(cat "$1/dev")
	if [ -b "/dev/$name" ]; then
		cur=$(stat -c '%t:%T' "/dev/$name")
		[ "$((16#${cur%:*})):$((16#${cur#*:}))" = "$mm" ] && return 0
	fi
	rm -f "/dev/$name"
	mknod "/dev/$name" b "${mm%:*}" "${mm#*:}" 2>/dev/null
	[ -b "/dev/$name" ] || fail "cannot make /dev/$name"
}

# verify_io DEV MIB: write MIB MiB of random data at an odd offset with
# O_DIRECT, read it back and compare.
verify_io() {
	local dev=$1 mib=$2 pat back
	pat=$(mktemp) back=$(mktemp)
	cleanup_add "rm -f '$pat' '$back'"
	head -c "$((mib << 20))" /dev/urandom >"$pat"
	dd if="$pat" of="$dev" bs=64k seek=3 oflag=direct conv=fsync status=none ||
		fail "write to $dev"
	dd if="$dev" of="$back" bs=64k skip=3 count=$((mib * 16)) iflag=direct status=none ||
		fail "read from $dev"
	cmp "$pat" "$back" || fail "data read back from $dev differs"
	msg "$mib MiB written and verified on $dev"
}

# mem_stat_sum OBJ NAME...: set STAT_SUM to the sum of the counters NAME
# of memory object OBJ's stats. Bash builtins only: the callers poll it,
# and a fork costs much in the debug guest.
mem_stat_sum() {
	local obj=$1 k v
	shift
	STAT_SUM=0
	while read -r k v || [ -n "$k" ]; do
		[[ " $* " != *" $k "* ]] || STAT_SUM=$((STAT_SUM + v))
	done <"$MEMCFS/$obj/stats"
	return 0
}

# _stat_moves OBJ PID SECONDS NAME...: wait until the counters NAME of OBJ
# pass their value now (true), process PID ends or SECONDS pass (false).
_stat_moves() {
	local obj=$1 pid=$2 end=$((SECONDS + $3)) a
	shift 3
	mem_stat_sum "$obj" "$@"
	a=$STAT_SUM
	while [ $SECONDS -le $end ]; do
		kill -0 "$pid" 2>/dev/null || return 1
		mem_stat_sum "$obj" "$@"
		[ "$STAT_SUM" -gt "$a" ] && return 0
		sleep 0.1
	done
	return 1
}

# _proc_state PID: the pid, state and wait channel of PID and of each of
# its children, on one line, for a failure message.
_proc_state() {
	local p c st
	[ -d /proc/"$1" ] || { echo "pid $1 ended"; return 0; }
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		st=$(cut -d' ' -f3 /proc/"$p"/stat 2>/dev/null) || continue
		c=$(cat /proc/"$p"/wchan 2>/dev/null)
		printf '%s %s %s; ' "$p" "$st" "${c:-?}"
	done
}

# expect_io_moving OBJ PID NAME...: call right before an action that must
# happen under I/O. Fails unless process PID (the I/O generator) runs and
# the counters NAME of memory object OBJ move: once since the call (up to
# 300 s: the generator starting, which a loaded debug guest can make
# slow), then again after a pause of 0.5 s (the deadlines only guard
# against a hang), PID still running after it. No timing decides a pass:
# only that the counters moved, then moved again, and PID had not ended.
# Sets IO_MOVED to what they moved since the pause began.
expect_io_moving() {
	local obj=$1 pid=$2 a
	shift 2
	kill -0 "$pid" 2>/dev/null || fail "the I/O generator (pid $pid) ended before the action"
	if ! _stat_moves "$obj" "$pid" 300 "$@"; then
		mem_stat_sum "$obj" "$@"
		fail "no I/O on $obj before the action: $* stay at $STAT_SUM; generator (pid state wchan): $(_proc_state "$pid")"
	fi
	mem_stat_sum "$obj" "$@"
	a=$STAT_SUM
	sleep 0.5
	_stat_moves "$obj" "$pid" 60 "$@" ||
		fail "the I/O on $obj stopped before the action: $* at $a; generator (pid state wchan): $(_proc_state "$pid")"
	kill -0 "$pid" 2>/dev/null || fail "the I/O generator (pid $pid) ended before the action"
	mem_stat_sum "$obj" "$@"
	IO_MOVED=$((STAT_SUM - a))
}

# fio_jobs FILE: one line per job of fio's JSON output FILE (fio run with
# --output-format=json and --group_reporting=0): NAME ERRNO ERRORS IOS:
# the job's error (0: none), the errors it saw (total_err with
# continue_on_error; else 1 if it stopped on an error) and the reads and
# writes (and trims) it issued. False if FILE holds no fio JSON.
fio_jobs() {
	python3 - "$1" <<'PY'
import json, sys
s = open(sys.argv[1]).read()
for j in json.loads(s[s.index("{"):])["jobs"]:
    err = j["error"]
    n = max(j.get("total_err", 0), 1 if err else 0)
    ios = sum(j.get(k, {}).get("total_ios", 0) for k in ("read", "write", "trim"))
    print(j["jobname"], err, n, ios)
PY
}
