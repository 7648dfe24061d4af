#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# A file system on a mem namespace over nvme-tcp: mkfs.ext4, mount, copy a
# tree and a large file, unmount, fsck clean, mount again and compare.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../transport.sh"
load_mem
modload nvmet-tcp nvme-tcp || fail "modprobe nvmet-tcp nvme-tcp"
new_mem_obj fs0 256M
new_subsys testnqn.fs
new_ns testnqn.fs 1
mem_ns testnqn.fs 1 fs0
export_port tcp testnqn.fs 71
connect_port tcp testnqn.fs 71
mnt=$(mktemp -d) src=$(mktemp -d)
cleanup_add "rm -rf '$src'; rmdir '$mnt'"
mkfs.ext4 -q -F "$DEV" || fail "mkfs.ext4"
mount "$DEV" "$mnt" || fail "mount"
cleanup_add "umount '$mnt'"
cp -a /usr/share/doc/bash "$src/tree" 2>/dev/null || cp -a /etc/ssl "$src/tree"
head -c 48M /dev/urandom >"$src/big"
cp -a "$src/tree" "$src/big" "$mnt/" || fail "copy"
umount "$mnt" || fail "umount"
fsck.ext4 -fn "$DEV" >/tmp/fsck.out 2>&1 || { sed 's/^/# /' /tmp/fsck.out; fail "fsck not clean"; }
mount "$DEV" "$mnt" || fail "mount again"
diff -r "$src/tree" "$mnt/tree" || fail "tree differs after remount"
cmp "$src/big" "$mnt/big" || fail "big file differs after remount"
msg "ext4 over nvme-tcp: $(du -sm "$mnt" | cut -f1) MiB copied, fsck clean, identical after remount"
