#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The runner's bookkeeping (selftests/runner-lib.sh) on made-up guest
# output: only guest.sh's own KTAP counts (a KUnit line in the console tail
# that vm.sh copies after a guest died is no pass, and the test it stands
# for is missing); a test given to a guest must report exactly once; a skip
# counts as a skip only where selftests/expected-skips allows it, and as a
# failure anywhere else.
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
check() { # check WHAT WANT GOT
	if [ "$2" != "$3" ]; then
		echo "# $1: got '$3', expected '$2'"
		bad=1
	fi
}
# counts SCRIPT: run SCRIPT with the runner's functions, print the counts
counts() {
	(
		shared=$tmp/shared NVMET_MEM_KERNEL=debug
		. "$here/runner-lib.sh"
		eval "$1" >"$tmp/out" 2>&1
		echo "$pass $failn $skipn"
	)
}

# A guest that died in its second test: vm.sh put the console's tail,
# which holds the KUnit suites' results, into host.log after the output.
mkdir -p "$tmp/g0"
cat >"$tmp/g0/output.log" <<'EOT'
TAP version 13
1..3
# --- mem_kunit
ok 1 mem_kunit
# --- mem_commands
EOT
{
	echo "[vm] booting"
	cat "$tmp/g0/output.log"
	echo "[vm] guest died before the script finished (vng exit 1); console tail:"
	echo "ok 2 mem_commands"
	echo "ok 3 mem_inject"
	echo "    ok 1 nvmet_mem_store"
} >"$tmp/g0/host.log"
check "a dead guest's console tail" "1 1 0" \
	"$(counts 'guest_results "$tmp/g0" 0 125 mem_kunit mem_commands mem_inject')"
grep -q '^ok 2 guest_mem_commands' "$tmp/out" && { echo "# a console line counted as a pass"; bad=1; }

# a result twice, and one for a test the guest was not given
mkdir -p "$tmp/g1"
printf '%s\n' "TAP version 13" "1..2" "ok 1 mem_thin" "ok 2 mem_thin" "ok 3 mem_oom" >"$tmp/g1/output.log"
cp "$tmp/g1/output.log" "$tmp/g1/host.log"
check "a test reported twice, another never" "1 3 0" \
	"$(counts 'guest_results "$tmp/g1" 1 0 mem_thin mem_resize')"

# skips: expected only where expected-skips says so
mkdir -p "$tmp/g2"
printf '%s\n' "TAP version 13" "1..3" "ok 1 mem_nvmetcli # SKIP no nvmetcli" \
	"ok 2 transport_data_rdma_mem_4096 # SKIP modprobe nvmet-rdma nvme-rdma failed" \
	"ok 3 mem_fault_injection # SKIP no fault injection" >"$tmp/g2/output.log"
cp "$tmp/g2/output.log" "$tmp/g2/host.log"
check "skips without ../shared, on the debug kernel" "0 2 1" \
	"$(counts 'guest_results "$tmp/g2" 2 0 mem_nvmetcli transport_data_rdma_mem_4096 mem_fault_injection')"
grep -q '^not ok .* guest_transport_data_rdma_mem_4096 # skipped, and not in' "$tmp/out" ||
	{ echo "# the rdma skip is not named as unexpected"; bad=1; }
mkdir -p "$tmp/shared/nvmetcli" && touch "$tmp/shared/nvmetcli/nvmetcli"
check "the nvmetcli skip with ../shared present" "0 3 0" \
	"$(counts 'guest_results "$tmp/g2" 2 0 mem_nvmetcli transport_data_rdma_mem_4096 mem_fault_injection')"

# a whole guest: every test reports once
mkdir -p "$tmp/g3"
printf '%s\n' "TAP version 13" "1..2" "ok 1 mem_thin" "not ok 2 mem_oom" >"$tmp/g3/output.log"
cp "$tmp/g3/output.log" "$tmp/g3/host.log"
check "a guest that ran all its tests" "1 1 0" \
	"$(counts 'guest_results "$tmp/g3" 3 0 mem_thin mem_oom')"

[ $bad = 0 ] || exit 1
echo "# console tail, duplicates, missing results and unexpected skips all counted as failures"
