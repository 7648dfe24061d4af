#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suites (range splitting, the page store: insertion race,
# deallocation over holes, page counter and cap; LBA math, size parsing) run
# when it is loaded and all pass.
. "$(dirname "$0")/../lib.sh"
load_nvmet
if mem_loaded; then rmmod nvmet_mem || skip "module busy"; fi
log_mark
insmod "$MEM_KO" || fail "insmod"
sleep 1
log=$(log_since)
for suite in nvmet_mem_store nvmet_mem_io nvmet_mem_configfs; do
	echo "$log" | grep -qE "^\[.*\] *ok [0-9]+ $suite\$" ||
		{ echo "$log" | grep -E "$suite|not ok" | sed 's/^/# /'; fail "suite $suite did not pass"; }
done
if echo "$log" | grep -qE "not ok"; then fail "a KUnit case failed"; fi
msg "$(echo "$log" | grep -cE '^\[.*\] +ok [0-9]+ ') KUnit cases and suites passed"
