#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The namespace "backend" attribute: defaults to empty, takes "bdev", "file"
# and "mem", rejects unknown and overlong names (-EINVAL) and changes while
# enabled (-EBUSY) without changing state, and an empty write restores the
# default. (mem_intree checks that a name loads nvmet-backend-<name>.)
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj attr0 1M
new_subsys testnqn.attr
new_ns testnqn.attr 1
ns=$CFS/subsystems/testnqn.attr/namespaces/1
[ -z "$(cat "$ns/backend")" ] || fail "default not empty"
expect_errno EINVAL try_write "$ns/backend" nosuchbackend
expect_errno EINVAL try_write "$ns/backend" "$(printf 'm%.0s' $(seq 1 33))"
expect_errno EINVAL try_write "$ns/backend" "../mem"
[ -z "$(cat "$ns/backend")" ] || fail "bad write changed state"
for b in bdev file; do
	write_attr "$ns/backend" $b || fail "backend $b"
	[ "$(cat "$ns/backend")" = $b ] || fail "backend $b did not take"
done
write_attr "$ns/backend" mem
write_attr "$ns/device_path" attr0
write_attr "$ns/enable" 1 || fail "enable"
expect_errno EBUSY try_write "$ns/backend" ""
[ "$(cat "$ns/backend")" = mem ] || fail "busy write changed state"
write_attr "$ns/enable" 0
write_attr "$ns/backend" "" || fail "reset to default"
[ -z "$(cat "$ns/backend")" ] || fail "reset did not take"

