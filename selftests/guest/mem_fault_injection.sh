#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Allocation failures aimed at the module (fail_page_alloc and failslab,
# stack-trace filtered to nvmet_mem's text) while writes run: every failed
# allocation reaches the host as an NVMe error status (Internal Error, not
# a hang or a crash), acknowledged writes read back intact once injection
# stops, failed ones leave nothing behind, and no page is leaked.
. "$(dirname "$0")/../lib.sh"
dbg=/sys/kernel/debug
[ -d "$dbg/fail_page_alloc" ] && [ -d "$dbg/failslab" ] ||
	skip "kernel without FAIL_PAGE_ALLOC/FAILSLAB debugfs (use the debug kernel)"
[ -e "$dbg/fail_page_alloc/require-start" ] || skip "no FAULT_INJECTION_STACKTRACE_FILTER"
load_mem
new_mem_obj fi0 16M 4096
new_subsys testnqn.fi
new_ns testnqn.fi 1
mem_ns testnqn.fi 1 fi0
export_loop testnqn.fi 81
connect_loop testnqn.fi

# the module's address range, from /proc/modules (base and size)
read -r size base < <(awk '$1 == "nvmet_mem" { print $2, $6 }' /proc/modules)
start=$((base)) end=$((base + size))
[ "$start" -gt 0 ] || fail "no module address in /proc/modules"

inject() { # inject PERCENT: aim both capabilities at the module
	local f
	for f in fail_page_alloc failslab; do
		echo 0 >"$dbg/$f/probability"
		echo N >"$dbg/$f/ignore-gfp-wait" 2>/dev/null
		echo 0 >"$dbg/$f/verbose"
		echo 1 >"$dbg/$f/interval"
		echo "$start" >"$dbg/$f/require-start"
		echo "$end" >"$dbg/$f/require-end"
		echo 10 >"$dbg/$f/stacktrace-depth"
		echo 100000 >"$dbg/$f/times"
		echo "$1" >"$dbg/$f/probability"
	done
	echo N >"$dbg/fail_page_alloc/ignore-gfp-highmem" 2>/dev/null
	echo 0 >"$dbg/fail_page_alloc/min-order" 2>/dev/null
}
cleanup_add "echo 0 > $dbg/fail_page_alloc/probability; echo 0 > $dbg/failslab/probability"

blk=$(mktemp) back=$(mktemp) log=$(mktemp)
cleanup_add "rm -f '$blk' '$back' '$log'"
# block N of the test holds "block N" repeated, so each is distinct
mkblk() { yes "block $1 of the fault injection test" | head -c 4096 >"$blk"; }

# Blocks 0..63 are written before injection: they must survive it.
for b in $(seq 0 63); do
	mkblk "$b"
	nvme write "$DEV" -s "$b" -c 0 -z 4096 -d "$blk" >/dev/null 2>&1 || fail "setup write $b"
done
before_pages=$(( $(cat "$MEMCFS/fi0/allocated") / 4096 ))

inject 30
ok=() failed=()
for b in $(seq 64 1087); do
	mkblk "$b"
	# passthrough: the host driver does not retry, so we see the status
	if nvme write "$DEV" -s "$b" -c 0 -z 4096 -d "$blk" >"$log" 2>&1; then
		ok+=("$b")
	else
		grep -qiE "internal|INTERNAL" "$log" || { cat "$log"; fail "block $b: unexpected status"; }
		failed+=("$b")
	fi
done
remaining=$(cat "$dbg/fail_page_alloc/times")
remaining_slab=$(cat "$dbg/failslab/times")
echo 0 >"$dbg/fail_page_alloc/probability"
echo 0 >"$dbg/failslab/probability"
injected=$(( 200000 - remaining - remaining_slab ))
msg "${#ok[@]} writes acknowledged, ${#failed[@]} failed with Internal Error; $injected allocation failures injected"
[ ${#failed[@]} -gt 0 ] || fail "no write failed: injection did not reach the module"
[ ${#ok[@]} -gt 0 ] || fail "every write failed"

# the device still works and every acknowledged block is intact
for b in $(seq 0 63) "${ok[@]}"; do
	mkblk "$b"
	nvme read "$DEV" -s "$b" -c 0 -z 4096 -d "$back" >/dev/null 2>&1 || fail "read $b"
	cmp -s "$blk" "$back" || fail "acknowledged block $b damaged"
done
# a failed write allocated nothing that stayed: it reads zeroes
for b in "${failed[@]}"; do
	nvme read "$DEV" -s "$b" -c 0 -z 4096 -d "$back" >/dev/null 2>&1 || fail "read $b"
	cmp -s -n 4096 /dev/zero "$back" || fail "failed block $b holds data"
done
pages=$(( $(cat "$MEMCFS/fi0/allocated") / 4096 ))
[ "$pages" = $((before_pages + ${#ok[@]})) ] ||
	fail "$pages pages in use, expected $((before_pages + ${#ok[@]})): leak or loss"
msg "$(( (64 + ${#ok[@]}) * 4096 )) bytes verified after injection; page count exact"
