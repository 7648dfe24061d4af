#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the guest: every test in guest/ in order, KTAP output.
# A test passes with exit 0, is skipped with exit 4 (kselftest), fails
# otherwise or when it runs past the per-test timeout.
here=$(cd "$(dirname "$0")" && pwd)
# $1: the kernel tree's tools/testing/selftests/kselftest/ktap_helpers.sh,
# or --list to print the KTAP names of the picked tests and exit (run.sh
# splits them between guests); further arguments, if any, pick tests: a
# test runs if one of them is its script name or its KTAP name (e.g.
# mem_commands, transport_data, transport_data_tcp_mem_512).
helpers=${1:?usage: guest.sh KTAP_HELPERS|--list [TEST...]}
shift

# name [args]: the KTAP name is the words joined by '_'. make soak
# (scripts/soak.sh) runs what is left out here to keep make check short:
# transport_data loop 4096, tcp 512, tcp-netns and rdma 512,
# mem_nodata_leak over rdma, mem_ext4_tcp, all four torture runs and the
# races under I/O (mem_races; mem_remove_under_io and mem_configfs_races
# stay).
TESTS=(
	module_load
	backend_attr
	rmmod_in_use
	module_unload
	mem_intree
	mem_kunit
	mem_bad_input
	mem_mkdir_fail
	mem_configfs_races
	mem_commands
	mem_inject
	mem_inject_resv
	mem_resize
	mem_thin
	mem_cap_race
	mem_reap
	mem_latency
	mem_hold
	mem_nvmetcli
	mem_passthru
	mem_after_zoned
	mem_persistence
	mem_nodata
	"mem_nodata_leak tcp"
	mem_oom
	"mem_fuzz loop"
	"mem_fuzz tcp"
	mem_inline
	mem_torture
	mem_lockfree
	mem_rmmod
	"transport_data loop mem 512"
	"transport_data tcp mem 4096"
	mem_remove_under_io
	mem_fault_injection
	brd_loop
	file_loop
	passthru_loop
	"transport_data rdma mem 4096"
)
per_test=${PER_TEST_TIMEOUT:-900}
if [ $# -gt 0 ]; then
	picked=()
	for entry in "${TESTS[@]}"; do
		read -r -a words <<<"$entry"
		t=$(IFS=_; echo "${words[*]}")
		for want in "$@"; do
			if [ "$want" = "${words[0]}" ] || [ "$want" = "$t" ]; then
				picked+=("$entry")
				break
			fi
		done
	done
	[ ${#picked[@]} -gt 0 ] || { echo "guest.sh: no test matches: $*" >&2; exit 2; }
	TESTS=("${picked[@]}")
fi
if [ "$helpers" = --list ]; then
	for entry in "${TESTS[@]}"; do
		read -r -a words <<<"$entry"
		(IFS=_; echo "${words[*]}")
	done
	exit 0
fi

. "$helpers"
ktap_print_header
ktap_set_plan "${#TESTS[@]}"
for entry in "${TESTS[@]}"; do
	read -r -a words <<<"$entry"
	t=$(IFS=_; echo "${words[*]}")
	echo "# --- $t"
	t0=$(date +%s)
	timeout "$per_test" bash "$here/guest/${words[0]}.sh" "${words[@]:1}" 2>&1 |
		sed 's/^\([^#]\)/# \1/'
	rc=${PIPESTATUS[0]}
	echo "# $t: $(($(date +%s) - t0)) s"
	case $rc in
	0) ktap_test_pass "$t" ;;
	4) ktap_test_skip "$t" ;;
	124) echo "# timed out after ${per_test}s"; ktap_test_fail "$t" ;;
	*) echo "# exit status $rc"; ktap_test_fail "$t" ;;
	esac
	# a test that leaves the guest dirty poisons the ones after it
	rm -rf /sys/kernel/config/nvmet/ports/*/subsystems/* 2>/dev/null
done
ktap_finished
