#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
#   transport_data.sh TRANSPORT BACKEND LBA_SIZE
#
# Data integrity of one namespace (64 MiB) exported over TRANSPORT (loop,
# tcp, tcp-netns, rdma; see ../transport.sh) and backed by BACKEND (brd:
# /dev/ram0, 512-byte LBAs only; mem: the nvmet-mem backend):
#  a) random-size writes (1 LBA to ~300 KiB) at random LBAs, one set 4 KiB
#     aligned, one set not (straddling 4 KiB page boundaries), each read
#     back with O_DIRECT and compared; then the whole area against a shadow
#     copy (catches a write that clobbers its neighbours); the last LBAs
#  b) fio random writes of 4k..128k with crc32c verification, 16 MiB
#  c) nvme flush
#  d) discard: the range reads zeros, its neighbours are intact (mem: NUSE
#     drops; if the namespace says deallocated blocks read zeros, also an
#     unaligned range)
#  e) write zeroes (blkdiscard -z and nvme write-zeroes) read zeros
#  f) nvme id-ns: nsze and the LBA size are as configured
# Layout: [0,8M) a, [8M,24M) b, [24M,28M) d, [28M,32M) e, last 1 MiB a.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"

TR=${1:?usage: transport_data.sh TRANSPORT BACKEND LBA_SIZE}
BACKEND=${2:?usage: transport_data.sh TRANSPORT BACKEND LBA_SIZE}
LBA=${3:?usage: transport_data.sh TRANSPORT BACKEND LBA_SIZE}
NQN=testnqn.data.$TR.$BACKEND
SIZE=$((64 << 20))
MiB=$((1 << 20))
verified=0
case $LBA in 512 | 1024 | 2048 | 4096) ;; *) fail "LBA_SIZE $LBA: 512, 1024, 2048 or 4096" ;; esac
lbads=$(( LBA == 512 ? 9 : LBA == 1024 ? 10 : LBA == 2048 ? 11 : 12 ))
per_page=$((4096 / LBA)) # LBAs per 4 KiB page

# setup_backend_mem NQN NSID LBA_SIZE: namespace NSID of NQN backed by a
# 64 MiB nvmet-mem object with LBA_SIZE blocks; removed at exit.
setup_backend_mem() {
	local nqn=$1 nsid=$2 lba=$3 m=/sys/kernel/config/nvmet_mem obj ns
	load_mem
	[ -d "$m" ] || skip "no $m: this nvmet-mem has no objects to back a namespace yet"
	obj=data${nsid}_$$
	mkdir "$m/$obj" || fail "mkdir $m/$obj"
	cleanup_add "rmdir '$m/$obj'"
	write_attr "$m/$obj/size" 64M || fail "size of $obj"
	write_attr "$m/$obj/blocksize" "$lba" || fail "blocksize $lba of $obj"
	new_ns "$nqn" "$nsid" # its clean-up (disable, rmdir) runs before the rmdir above
	ns=$CFS/subsystems/$nqn/namespaces/$nsid
	write_attr "$ns/backend" mem || fail "backend mem"
	write_attr "$ns/device_path" "$obj" || fail "device_path $obj"
	write_attr "$ns/enable" 1 || fail "enable mem namespace"
}

setup_backend_brd() {
	local nqn=$1 nsid=$2 lba=$3 ns
	[ "$lba" = 512 ] || skip "brd has 512-byte LBAs only (asked for $lba)"
	[ -e /sys/module/brd ] && fail "brd is already loaded (an earlier test did not clean up?)"
	modprobe brd rd_nr=1 rd_size=$((SIZE >> 10)) || fail "modprobe brd"
	cleanup_add "modprobe -r brd"
	new_ns "$nqn" "$nsid"
	ns=$CFS/subsystems/$nqn/namespaces/$nsid
	write_attr "$ns/device_path" /dev/ram0
	write_attr "$ns/enable" 1 || fail "enable brd namespace"
}

tmp=$(mktemp -d)
cleanup_add "rm -rf '$tmp'"

# wr OFF_LBA NLBA FILE [FILE_OFF_BYTES]: write NLBA LBAs of FILE at LBA OFF,
# one O_DIRECT write.
wr() {
	dd if="$3" of="$DEV" bs=$(($2 * LBA)) count=1 skip="${4:-0}" seek=$(($1 * LBA)) \
		iflag=skip_bytes oflag=direct,seek_bytes conv=notrunc status=none ||
		fail "write of $2 LBAs at LBA $1"
}
# rd OFF_LBA NLBA FILE: read them into FILE, one O_DIRECT read.
rd() {
	dd if="$DEV" of="$3" bs=$(($2 * LBA)) count=1 skip=$(($1 * LBA)) \
		iflag=direct,skip_bytes status=none || fail "read of $2 LBAs at LBA $1"
}
# expect OFF_LBA NLBA FILE WHAT: the LBAs read back equal FILE.
expect() {
	rd "$1" "$2" "$tmp/back"
	cmp "$3" "$tmp/back" >/dev/null || {
		cmp "$3" "$tmp/back" | sed 's/^/# /'
		fail "$4: LBAs $1+$2 read back differ"
	}
	verified=$((verified + $2 * LBA))
}
# rand N: R = a random number 0 <= R < N (no subshell: those reseed RANDOM)
rand() { R=$(((RANDOM << 15 | RANDOM) % $1)); }

# --- set up
load_nvmet
new_subsys "$NQN"
case $BACKEND in
brd) setup_backend_brd "$NQN" 1 "$LBA" ;;
mem) setup_backend_mem "$NQN" 1 "$LBA" ;;
*) fail "unknown backend '$BACKEND' (brd, mem)" ;;
esac
export_port "$TR" "$NQN" 1
start=$(date +%s)
connect_port "$TR" "$NQN" 1
blk=/sys/block/${DEV#/dev/}
[ "$(cat "$blk/queue/logical_block_size")" = "$LBA" ] ||
	fail "$DEV logical block size $(cat "$blk/queue/logical_block_size"), expected $LBA"
[ $(($(cat "$blk/size") * 512)) = $SIZE ] || fail "$DEV is $(($(cat "$blk/size") * 512)) bytes, expected $SIZE"

# --- f) identify namespace
idns=$(nvme id-ns "$DEV") || fail "nvme id-ns $DEV"
nsze=$(awk '$1 == "nsze" { print $3 }' <<<"$idns")
got_lbads=$(sed -n 's/^lbaf .*lbads:\([0-9]*\).*in use.*/\1/p' <<<"$idns")
[ -n "$nsze" ] && [ $((nsze)) = $((SIZE / LBA)) ] || fail "id-ns nsze '$nsze', expected $((SIZE / LBA))"
[ "$got_lbads" = "$lbads" ] || fail "id-ns lbads of the LBA format in use '$got_lbads', expected $lbads"
dlfeat=$(awk '$1 == "dlfeat" { print $3 }' <<<"$idns")
msg "id-ns: nsze $((nsze)), lbads $got_lbads, dlfeat ${dlfeat:-?}"

# --- a) random writes, shadowed
seed=${TD_SEED:-$$}
RANDOM=$seed
msg "random seed $seed (TD_SEED=$seed to repeat)"
area=$((8 * MiB / LBA))     # LBAs in [0,8M)
maxn=$((300 * 1024 / LBA)) # ~300 KiB
rd 0 "$area" "$tmp/shadow"
head -c $((2 * maxn * LBA)) /dev/urandom >"$tmp/rand"
pattern() { # KIND OFF NLBA: one write, read back, applied to the shadow
	local off=$2 n=$3 src
	rand "$maxn"; src=$((R * LBA))
	dd if="$tmp/rand" of="$tmp/pat" bs=$((n * LBA)) count=1 skip="$src" \
		iflag=skip_bytes status=none
	wr "$off" "$n" "$tmp/pat"
	expect "$off" "$n" "$tmp/pat" "$1 write"
	dd if="$tmp/pat" of="$tmp/shadow" bs=$((n * LBA)) count=1 seek=$((off * LBA)) \
		oflag=seek_bytes conv=notrunc status=none
}
# 4 KiB aligned: page-multiple sizes at page-multiple offsets
for i in $(seq 1 8); do
	rand $((maxn / per_page)); n=$(((R + 1) * per_page))
	rand $(((area - n) / per_page + 1)); off=$((R * per_page))
	pattern aligned "$off" "$n"
done
# unaligned: offsets inside a page (when an LBA is smaller than a page),
# any number of LBAs; the fixed ones straddle a page boundary minimally,
# end at one, and cover a page plus one LBA either side
for i in $(seq 1 8); do
	rand "$maxn"; n=$((R + 1))
	rand $((area - n)); off=$R
	if [ $per_page -gt 1 ] && [ $((off % per_page)) = 0 ]; then off=$((off + 1)); fi
	pattern unaligned "$off" "$n"
done
if [ $per_page -gt 1 ]; then
	pattern straddle $((5 * per_page - 1)) 2
	pattern straddle $((9 * per_page + 1)) $((per_page - 1))
	pattern straddle $((13 * per_page - 1)) $((per_page + 2))
	pattern straddle $((17 * per_page + per_page / 2)) $((maxn - 1))
fi
pattern single 1 1
expect 0 "$area" "$tmp/shadow" "whole pattern area"
n=$((MiB / LBA))
head -c $MiB /dev/urandom >"$tmp/tail"
wr $((SIZE / LBA - n)) "$n" "$tmp/tail"
expect $((SIZE / LBA - n)) "$n" "$tmp/tail" "last MiB"
msg "a) random aligned/unaligned writes verified"

# --- b) fio, 16 MiB at 8M
engine=""
for e in io_uring libaio psync; do
	if fio --name=probe --filename="$DEV" --ioengine=$e --direct=1 --rw=read \
		--bs=4k --size=4k --offset=8M >/dev/null 2>&1; then
		engine=$e
		break
	fi
	msg "fio ioengine $e does not work here"
done
[ -n "$engine" ] || fail "no fio ioengine works on $DEV"
t0=$(date +%s)
fio --name=verify --filename="$DEV" --ioengine="$engine" --iodepth=8 --direct=1 \
	--rw=randwrite --bsrange=4k-128k --offset=8M --size=16M \
	--verify=crc32c --do_verify=1 --verify_fatal=1 --randseed="$seed" \
	--output="$tmp/fio.out" >/dev/null 2>&1 || {
	sed 's/^/# /' "$tmp/fio.out" | tail -n 30
	fail "fio verify"
}
grep -q "err= 0" "$tmp/fio.out" || { sed 's/^/# /' "$tmp/fio.out"; fail "fio reported an error"; }
verified=$((verified + 16 * MiB))
msg "b) fio ($engine, iodepth 8, 4k-128k) wrote and verified 16 MiB in $(( $(date +%s) - t0 ))s"

# --- c) flush
out=$(nvme flush "$DEV" 2>&1) || fail "nvme flush $DEV: $out"
msg "c) nvme flush: $out"

# --- d) discard, in [24M,28M)
td_nuse() { printf '%d' "$(nvme id-ns "$DEV" | awk '$1 == "nuse" { print $3 }')"; }
d0=$((24 * MiB / LBA)) dn=$((4 * MiB / LBA))
head -c $((4 * MiB)) /dev/urandom >"$tmp/dpat"
wr "$d0" "$dn" "$tmp/dpat"
expect "$d0" "$dn" "$tmp/dpat" "discard area before discard"
cp "$tmp/dpat" "$tmp/dexp"
zero_exp() { # FILE OFF_BYTES LEN_BYTES: zero the range in the expected image
	dd if=/dev/zero of="$1" bs="$3" count=1 seek="$2" oflag=seek_bytes \
		conv=notrunc status=none
}
[ "$BACKEND" = mem ] && nuse0=$(td_nuse)
# a 4 KiB aligned range: brd (DLFEAT 0, deallocated data undefined by the
# spec) only drops, and so zeroes, the whole pages of a discard
blkdiscard -o $((24 * MiB + 256 * 1024)) -l $MiB "$DEV" || fail "blkdiscard"
zero_exp "$tmp/dexp" $((256 * 1024)) $MiB
# cmp -n against /dev/zero, then the neighbours via the expected image
dd if="$DEV" bs=64k skip=$((24 * 16 + 4)) count=16 iflag=direct status=none |
	cmp -n $MiB - /dev/zero || fail "discarded range does not read zeros"
what="4 KiB aligned 1 MiB"
# deallocated blocks read zeros (DLFEAT bits 2:0 = 001b): also unaligned
if [ $((${dlfeat:-0} & 7)) = 1 ]; then
	blkdiscard -o $((26 * MiB + 3 * LBA)) -l $((37 * LBA)) "$DEV" || fail "unaligned blkdiscard"
	zero_exp "$tmp/dexp" $((2 * MiB + 3 * LBA)) $((37 * LBA))
	what="$what and unaligned 37 LBA"
fi
expect "$d0" "$dn" "$tmp/dexp" "discard area after discard"
if [ "$BACKEND" = mem ]; then
	nuse1=$(td_nuse)
	msg "NUSE $nuse0 before the discard, $nuse1 after"
	[ "$nuse1" -lt "$nuse0" ] || fail "NUSE did not drop after a discard ($nuse0 -> $nuse1)"
fi
msg "d) discard ($what) reads zeros, neighbours intact"

# --- e) write zeroes, in [28M,32M)
z0=$((28 * MiB / LBA))
head -c $((4 * MiB)) /dev/urandom >"$tmp/zpat"
wr "$z0" "$dn" "$tmp/zpat"
cp "$tmp/zpat" "$tmp/zexp"
blkdiscard -z -o $((28 * MiB + 128 * 1024 + 3 * LBA)) -l $((512 * 1024)) "$DEV" ||
	fail "blkdiscard -z"
zero_exp "$tmp/zexp" $((128 * 1024 + 3 * LBA)) $((512 * 1024))
out=$(nvme write-zeroes "$DEV" -s $((z0 + 2 * MiB / LBA + 5)) -c 99 2>&1) ||
	fail "nvme write-zeroes: $out"
zero_exp "$tmp/zexp" $((2 * MiB + 5 * LBA)) $((100 * LBA))
expect "$z0" "$dn" "$tmp/zexp" "write zeroes area"
msg "e) write zeroes (blkdiscard -z, write_zeroes_max_bytes $(cat "$blk/queue/write_zeroes_max_bytes"); nvme write-zeroes) read zeros, neighbours intact"

check_transport "$TR" "$NQN" 1
msg "verified $verified bytes"
msg "$TR/$BACKEND/$LBA: I/O took $(( $(date +%s) - start ))s"
