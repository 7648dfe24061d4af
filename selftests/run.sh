#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test suite: set up the machine (idempotent), build the patched guest
# kernel (cached) and the module, run the host tests, then boot the guests
# (two at once by default) and run the guest tests in them. Output is
# KTAP; the last line is
#   N passed, N failed, N skipped
# and the exit status is non-zero if anything failed, including a build
# step, a guest crash or any oops/BUG/WARNING/KASAN/lockdep report.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
LOG_TAG=selftests
. "$here/../scripts/env.sh"
# The suite runs on the debug kernel (KASAN, lockdep, kmemleak, fault
# injection); NVMET_MEM_KERNEL=plain runs it on the plain one.
export NVMET_MEM_KERNEL=${NVMET_MEM_KERNEL:-debug}

shared=${NVMET_MEM_SHARED:-$(dirname "$NVMET_MEM_TOP")/shared}
. "$here/runner-lib.sh"

step() { # step NAME CMD...: a build step that counts as a test
	local name=$1 log
	shift
	log=$(mktemp)
	local t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		echo "# $name: $((SECONDS - t0)) s"
		result ok "$name"
	else
		sed 's/^/# /' "$log" | tail -n 40
		result fail "$name"
		rm -f "$log"
		finish
	fi
	rm -f "$log"
}

echo "TAP version 13"
step setup "$NVMET_MEM_TOP/scripts/setup.sh"
step "kernel_build_$NVMET_MEM_KERNEL" "$NVMET_MEM_TOP/scripts/build-kernel.sh"
KDIR=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)
export KDIR
step module_build make_module "$KDIR"

# T="name ..." (make check T=...): only those guest tests, no host tests.
picked=(${T:-})
[ ${#picked[@]} -eq 0 ] || echo "# only the guest tests: ${picked[*]}"
for t in "$here"/host/*.sh; do
	[ ${#picked[@]} -eq 0 ] || break
	name=host_$(basename "$t" .sh)
	bash "$t" 2>&1 | sed 's/^\([^#]\)/# \1/'
	case ${PIPESTATUS[0]} in
	0) result ok "$name" ;;
	4) result skip "$name" ;;
	*) result fail "$name" ;;
	esac
done

# The guest tests run in NVMET_MEM_GUESTS guests (default 2) at once, each
# a share of the tests, balanced by the seconds in selftests/durations: a
# guest's vCPUs are often idle (a test waits for a timer, a shell script
# forks), so two guests finish much sooner than one.
out=$(mktemp -d /tmp/nvmet-mem-selftests.XXXXXX)
timeout_s=$(sed -n 's/^timeout=//p' "$here/settings")
KTAP_HELPERS=$KDIR/tools/testing/selftests/kselftest/ktap_helpers.sh
mapfile -t names < <(bash "$here/guest.sh" --list "${picked[@]}")
[ ${#names[@]} -gt 0 ] || { result fail guest_tests_picked; finish; }
nguests=${NVMET_MEM_GUESTS:-2}
[ "$nguests" -ge 1 ] || nguests=1
[ "$nguests" -le ${#names[@]} ] || nguests=${#names[@]}
# longest first onto the guest with the least so far; each guest keeps the
# list's order
mapfile -t shard_of < <(python3 - "$here/durations" "$nguests" "${names[@]}" <<'PY'
import sys
dur = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 2 and not line.startswith("#"):
        dur[f[0]] = int(f[1])
n, names = int(sys.argv[2]), sys.argv[3:]
load, shard = [0] * n, {}
for t in sorted(names, key=lambda t: -dur.get(t, 60)):
    g = load.index(min(load))
    shard[t] = g
    load[g] += dur.get(t, 60)
for t in names:
    print(shard[t])
PY
)
pids=()
for g in $(seq 0 $((nguests - 1))); do
	mine=()
	for i in "${!names[@]}"; do
		[ "${shard_of[i]}" = "$g" ] && mine+=("${names[i]}")
	done
	mkdir "$out/guest$g"
	echo "# guest $g: ${mine[*]}"
	# `make check T=...` picks by script name too; here every name is a
	# KTAP name, which picks exactly one test
	"$NVMET_MEM_TOP/scripts/vm.sh" -o "$out/guest$g" -t "${timeout_s:-900}" "$here/guest.sh" \
		"$KTAP_HELPERS" "${mine[@]}" >"$out/guest$g/host.log" 2>&1 &
	pids+=($!)
done
for g in "${!pids[@]}"; do
	vmrc=0
	wait "${pids[g]}" || vmrc=$?
	mine=()
	for i in "${!names[@]}"; do
		[ "${shard_of[i]}" = "$g" ] && mine+=("${names[i]}")
	done
	guest_results "$out/guest$g" "$g" "$vmrc" "${mine[@]}"
	if [ -s "$out/guest$g/reports" ]; then
		# (the report may lack a final newline: add one)
		sed -e 's/^/# /' -e '$a\' "$out/guest$g/reports"
		result fail "guest${g}_kernel_log_clean"
	elif [ -f "$out/guest$g/dmesg" ]; then
		result ok "guest${g}_kernel_log_clean"
	else
		result fail "guest${g}_kernel_log_clean"
	fi
done
echo "# guest output and logs: $out"
finish
