#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What this machine cannot boot, Kconfig must exclude: the driver's entry
# in the series depends on 64BIT (a page's index is an unsigned long, and a
# 32-bit one would alias a thin namespace's pages beyond 16 TiB) and on
# !PREEMPT_RT (the page writer bit spins with bottom halves disabled, which
# does not stop preemption there), and the Rust sources assert the first.
# It selects NEED_TASKS_RCU, which its unload waits on (a race no test here
# can hit: a few instructions after a command's completion).
. "$(dirname "$0")/../../scripts/env.sh"
patch=$(ls "$NVMET_MEM_TOP"/patches/*-nvmet-mem-add-*.patch 2>/dev/null | tail -n 1)
[ -n "$patch" ] || { echo "# no nvmet-mem driver patch in patches/"; exit 1; }
entry=$(awk '/^\+config NVME_TARGET_MEM$/ { on = 1; next } on && /^\+(config|endif|menu)/ { exit } on' "$patch")
[ -n "$entry" ] || { echo "# no NVME_TARGET_MEM entry in $(basename "$patch")"; exit 1; }
deps=$(printf '%s\n' "$entry" | sed -n 's/^+[[:space:]]*depends on //p' | paste -sd ';' | sed 's/;/; /g')
rc=0
for want in '(^|[ &(])64BIT([ &)]|$)' '!PREEMPT_RT([ &)]|$)'; do
	if ! grep -Eq "$want" <<<"$deps"; then
		echo "# NVME_TARGET_MEM depends on '$deps': missing ${want//[^A-Z0-9_!]/}"
		rc=1
	fi
done
# the module's removal waits for tasks preempted in its code after the
# command that pinned it completed: on a preemptible kernel, only Tasks RCU
# does (without it, synchronize_rcu_tasks() is synchronize_rcu())
grep -Eq '^\+[[:space:]]*select NEED_TASKS_RCU$' <<<"$entry" ||
	{ echo "# NVME_TARGET_MEM does not select NEED_TASKS_RCU"; rc=1; }
grep -q 'synchronize_rcu_tasks();' "$NVMET_MEM_TOP/nvmet_mem.rs" ||
	{ echo "# nvmet_mem.rs does not wait for Tasks RCU on unload"; rc=1; }
grep -q 'assert!(usize::BITS >= 64)' "$NVMET_MEM_TOP/store.rs" ||
	{ echo "# store.rs does not assert a 64-bit usize"; rc=1; }
[ $rc -ne 0 ] || echo "# NVME_TARGET_MEM depends on: $deps"
exit $rc
