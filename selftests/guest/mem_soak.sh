#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Soak: fio verify (crc32c, mixed sizes, random and sequential) on a mem
# namespace over nvme-loop, then a file system workload (ext4 on a mem
# namespace over nvme-tcp, stress-ng file system stressors), each for
# SECONDS, then fsck. `make soak` runs the long variant.
#   mem_soak.sh [SECONDS]   (default 60)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
secs=${1:-60}
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj soak0 128M
new_mem_obj soak1 256M 4096
new_subsys testnqn.soak
new_ns testnqn.soak 1
new_ns testnqn.soak 2
mem_ns testnqn.soak 1 soak0
mem_ns testnqn.soak 2 soak1
export_loop testnqn.soak 101
connect_loop testnqn.soak
dev=$DEV
# fio verify: every block written is checked when read back; loops over the
# device until the time is up
out=$(mktemp)
cleanup_add "rm -f '$out'"
fio --name=soak --filename="$dev" --size=128M --direct=1 --ioengine=io_uring \
    --iodepth=16 --rw=randwrite --bsrange=4k-256k --verify=crc32c \
    --verify_fatal=1 --do_verify=1 --time_based --runtime="$secs" \
    --loops=1000 --output-format=json --output="$out" ||
	{ head -c 2000 "$out"; fail "fio verify soak"; }
written=$(python3 -c 'import json,sys; s=open(sys.argv[1]).read(); j=json.loads(s[s.index("{"):])["jobs"][0]; print(j["write"]["io_bytes"], j["read"]["io_bytes"])' "$out")
msg "fio verify soak ${secs}s: bytes written, read-verified: $written"
nvme disconnect -n testnqn.soak >/dev/null

command -v stress-ng >/dev/null || skip "stress-ng not installed"
export_port tcp testnqn.soak 102
connect_port tcp testnqn.soak 102
dev_of testnqn.soak tcp 2
fsdev=$DEV
mkfs.ext4 -q -F "$fsdev" || fail "mkfs.ext4"
mnt=$(mktemp -d)
mount "$fsdev" "$mnt" || fail "mount"
cleanup_add "umount '$mnt'; rmdir '$mnt'"
(cd "$mnt" && stress-ng --temp-path "$mnt" --hdd 2 --hdd-bytes 32M --dir 1 \
	--rename 1 --fallocate 1 --fallocate-bytes 16M --verify \
	--timeout "${secs}s" --metrics-brief >"$out" 2>&1) ||
	{ tail -20 "$out" | sed 's/^/# /'; fail "stress-ng on ext4"; }
grep -E "hdd|dir|rename|fallocate" "$out" | tail -4 | sed 's/^/# /'
umount "$mnt" || fail "umount"
fsck.ext4 -fn "$fsdev" >"$out" 2>&1 || { sed 's/^/# /' "$out"; fail "fsck after soak"; }
mount "$fsdev" "$mnt" || fail "remount"
msg "ext4 on mem over nvme-tcp: stress-ng ${secs}s, fsck clean"
