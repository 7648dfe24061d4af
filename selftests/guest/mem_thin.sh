#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A thin namespace far larger than the guest's RAM: 64 TiB with a 384 MiB
# max_memory cap, over nvme-tcp. ext4 is made on it with options that keep
# its metadata, and the time mke2fs and e2fsck take under TCG, small:
# bigalloc with 1 MiB clusters (2048 block groups instead of 524288),
# sparse_super2 and no resize inode (two copies of the group descriptors),
# inode tables and journal (32 MiB) not zeroed, 4 KiB blocks. It is mounted
# without the lazy inode table zeroing, files are written and read back,
# fsck is clean, and the namespace's NUSE stays a small fraction of its
# size. A size above RAM is refused without a cap, and the cap cannot be
# removed while the size is above RAM.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
o=$MEMCFS/thin0
mkdir "$o" || fail "mkdir thin0"
cleanup_add "rmdir '$o'"
write_attr "$o/blocksize" 4096
expect_errno ENOMEM try_write "$o/size" 64T
write_attr "$o/max_memory" 384M || fail "max_memory"
write_attr "$o/size" 64T || fail "size 64T with a cap"
expect_errno EINVAL try_write "$o/max_memory" 0
msg "64 TiB refused without a cap, accepted with max_memory 384M"
new_subsys testnqn.thin
new_ns testnqn.thin 1
mem_ns testnqn.thin 1 thin0
export_port tcp testnqn.thin 91
connect_port tcp testnqn.thin 91
size=$(blockdev --getsize64 "$DEV")
[ "$size" = $((64 << 40)) ] || fail "host sees $size bytes"
mnt=$(mktemp -d) src=$(mktemp -d)
cleanup_add "rm -rf '$src'; rmdir '$mnt'"
t0=$(date +%s)
mkfs.ext4 -q -F -b 4096 -O bigalloc,sparse_super2,^resize_inode -C 1048576 -J size=32 \
	-E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$DEV" || fail "mkfs.ext4"
after_mkfs=$(cat "$o/allocated")
msg "mkfs.ext4 of 64 TiB: $(($(date +%s) - t0)) s, $((after_mkfs >> 20)) MiB allocated"
mount -o noinit_itable "$DEV" "$mnt" || fail "mount"
cleanup_add "umount '$mnt'"
# a small tree (each file takes a 1 MiB cluster) and a large file
mkdir "$src/tree"
for i in $(seq 1 24); do head -c $((i * 4099)) /dev/urandom >"$src/tree/f$i"; done
head -c 32M /dev/urandom >"$src/big"
cp -a "$src/tree" "$src/big" "$mnt/" || fail "copy"
umount "$mnt" || fail "umount"
t0=$(date +%s)
fsck.ext4 -fn "$DEV" >/tmp/fsck.out 2>&1 || { sed 's/^/# /' /tmp/fsck.out | tail -20; fail "fsck not clean"; }
msg "fsck clean in $(($(date +%s) - t0)) s"
mount -o noinit_itable "$DEV" "$mnt" || fail "mount again"
diff -r "$src/tree" "$mnt/tree" || fail "tree differs after remount"
cmp "$src/big" "$mnt/big" || fail "big file differs after remount"
umount "$mnt"
used=$(nuse "$DEV")
alloc=$(cat "$o/allocated")
[ $((used * 4096)) = "$alloc" ] || fail "NUSE $used blocks, allocated $alloc bytes"
[ "$alloc" -le $((384 << 20)) ] || fail "allocated $alloc above the cap"
msg "64 TiB ext4 over nvme-tcp: NUSE $used blocks ($((alloc >> 20)) MiB, $(awk -v a="$alloc" 'BEGIN { printf "%.6f", a / (64 * 2^40) * 100 }') % of the namespace)"
