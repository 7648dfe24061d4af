#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# NVM commands on a mem namespace through nvme-cli passthrough: Compare
# (match, mismatch), Verify, Flush, LBA Out of Range for Read/Write/Write
# Zeroes/Verify with the error log pointing at the SLBA, Invalid Opcode for
# what the backend does not serve, and the Identify Namespace fields.
. "$(dirname "$0")/../lib.sh"
load_mem
new_mem_obj cmd0 1M
new_subsys testnqn.cmd
new_ns testnqn.cmd 1
mem_ns testnqn.cmd 1 cmd0
export_loop testnqn.cmd 51
connect_loop testnqn.cmd
nsze=$(printf '%d' "$(nvme id-ns "$DEV" | sed -n 's/^nsze *: *//p')")
[ "$nsze" = 2048 ] || fail "nsze $nsze, expected 2048"
nsfeat=$(nvme id-ns "$DEV" | sed -n 's/^nsfeat *: *//p')
[ $((nsfeat & 1)) = 1 ] || fail "NSFEAT thin bit not set ($nsfeat)"
dlfeat=$(nvme id-ns "$DEV" | sed -n 's/^dlfeat *: *//p')
[ $((dlfeat & 7)) = 1 ] || fail "DLFEAT does not say deallocated blocks read zero ($dlfeat)"
[ "$(nuse "$DEV")" = 0 ] || fail "NUSE not 0 on a fresh object"
# thin (NSFEAT bit 0) with preferred sizes (OPTPERF), deallocated blocks
# read zeroes and Write Zeroes deallocates (DLFEAT 9), deallocation by
# pages of 8 blocks (NPDG 7, 0's based), no volatile write cache; ONCS
# and the effects log advertise Compare and Verify (ONCS bits 0 and 7)
expect_id_fields "$DEV" "oncs=0xad nsfeat=49 dlfeat=9 nawun=0 npwg=0 npdg=7 npda=7 nows=0 ind_nsfeat=32 compare=1 verify=1"

blk=$(mktemp) other=$(mktemp) out=$(mktemp)
cleanup_add "rm -f '$blk' '$other' '$out'"
head -c 4096 /dev/urandom >"$blk"
head -c 4096 /dev/urandom >"$other"
dd if="$blk" of="$DEV" bs=4096 seek=1 oflag=direct status=none || fail "write"
[ "$(nuse "$DEV")" = 8 ] || fail "NUSE $(nuse "$DEV") after one 4 KiB write, expected 8"

nvme compare "$DEV" -s 8 -c 7 -z 4096 -d "$blk" >"$out" 2>&1 || { cat "$out"; fail "compare of equal data failed"; }
if nvme compare "$DEV" -s 8 -c 7 -z 4096 -d "$other" >"$out" 2>&1; then fail "compare of different data passed"; fi
grep -qi "compare" "$out" || { cat "$out"; fail "mismatch not reported as Compare Failure"; }
nvme compare "$DEV" -s 100 -c 7 -z 4096 -d /dev/zero >"$out" 2>&1 || fail "compare of a hole with zeroes failed"
nvme verify "$DEV" -s 0 -c 63 >"$out" 2>&1 || { cat "$out"; fail "verify"; }
nvme flush "$DEV" >"$out" 2>&1 || { cat "$out"; fail "flush"; }

for cmd in "nvme read $DEV -s $nsze -c 0 -z 512 -d /dev/null" \
	   "nvme write $DEV -s $((nsze - 1)) -c 1 -z 1024 -d $blk" \
	   "nvme write-zeroes $DEV -s $((nsze - 4)) -c 7" \
	   "nvme verify $DEV -s $nsze -c 0"; do
	if $cmd >"$out" 2>&1; then fail "'$cmd' beyond the end succeeded"; fi
	grep -qi "LBA.*range\|out of range" "$out" || { cat "$out"; fail "'$cmd': not LBA Out of Range"; }
done
nvme error-log "$DEV" -e 8 >"$out" 2>&1 || fail "error-log"
grep -qE "^lba[[:space:]]*: (0x$(printf '%x' "$nsze")|$nsze)\$" "$out" ||
	{ head -40 "$out"; fail "error log has no entry for LBA $nsze"; }
if nvme io-passthru "$DEV" --opcode=0x7f --namespace-id=1 >"$out" 2>&1; then
	fail "opcode 0x7f accepted"
fi
grep -qi "invalid.*opcode\|INVALID_OPCODE" "$out" || { cat "$out"; fail "not Invalid Opcode"; }
# data untouched by all of that
dd if="$DEV" of="$out" bs=4096 skip=1 count=1 iflag=direct status=none
cmp "$blk" "$out" || fail "data changed"
msg "compare, verify, flush, LBA range and invalid opcode checked"
