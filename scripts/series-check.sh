#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make series-check: every prefix of patches/ builds as a kernel of its own.
#
# selftests/host/series_bisect.sh (in make check) builds each prefix's
# drivers/nvme/target as an external module against the guest kernel tree,
# which carries the whole series: a prefix whose code needs a change that a
# later patch makes outside drivers/nvme/target (patch 7 edits
# include/linux/nvme.h, and the nvme host includes it too) passes there and
# breaks a bisect. Here a kernel tree of its own starts from pristine Linux
# 7.3 and takes the series one patch at a time; after each patch the whole
# kernel (bzImage and modules: the nvme host, nvmet and its transports, the
# Rust crate, nvmet-mem once a patch adds it) is rebuilt incrementally, and
# the rebuild must finish without a compiler or rustc warning.
#
# The tree is cached in $NVMET_MEM_CACHE/series-check-*, configured as the
# plain kernel (kernel/guest.config + kernel/plain.config: NVMe multipath
# and auth on the host side). The first run builds pristine 7.3 once (about
# as long as the plain kernel); every run reverts what the last one applied
# and then rebuilds what each patch touches. It takes the kernel build lock:
# never two kernel builds at once on this 2-core machine.
#
# usage: scripts/series-check.sh
set -euo pipefail
LOG_TAG=series-check
. "$(dirname "$0")/env.sh"

[ -n "$KERNEL_TARBALL" ] || die "no /usr/src/linux-source-7.3.tar.*: run scripts/setup.sh"
CONFIGS=("$NVMET_MEM_TOP/kernel/guest.config" "$NVMET_MEM_TOP/kernel/plain.config")
mapfile -t PATCHES < <(series_patches)
[ ${#PATCHES[@]} -gt 0 ] || die "no patches in $NVMET_MEM_TOP/patches"
kver=$(basename "$KERNEL_TARBALL" | sed 's/\.tar\..*//; s/^linux-source-//')
tree="$NVMET_MEM_CACHE/series-check-$kver-$(hash_files "${CONFIGS[@]}")"
applied=$tree/.series-check-applied

mkdir -p "$NVMET_MEM_CACHE"
exec 8>"$NVMET_MEM_CACHE/.kernel-build.lock"
flock 8

start=$(date +%s)
if [ ! -f "$tree/Makefile" ]; then
	log "extracting pristine $kver into $tree"
	rm -rf "$tree"
	tmp=$(mktemp -d "$NVMET_MEM_CACHE/extract.XXXXXX")
	tar -C "$tmp" -xf "$KERNEL_TARBALL"
	mv "$tmp"/linux-source-* "$tree"
	rmdir "$tmp"
	: >"$applied"
fi
# back to pristine: revert what the last run applied, last patch first
if [ -s "$applied" ]; then
	log "reverting the $(wc -l <"$applied") patches of the last run"
	tac "$applied" | while IFS= read -r p; do
		patch -d "$tree" -p1 -R --batch --quiet <"$tree/.series-check-patches/$p" ||
			die "cannot revert $p: delete $tree and rerun"
	done
	: >"$applied"
fi
rm -rf "$tree/.series-check-patches"
mkdir -p "$tree/.series-check-patches"

# kbuild NAME: rebuild the tree incrementally; fail on an error or a warning
kbuild() {
	local out t0=$(date +%s)
	if ! out=$(make -C "$tree" -s -j"$JOBS" "${KMAKE_VARS[@]}" bzImage modules 2>&1); then
		printf '%s\n' "$out" | tail -n 30 >&2
		die "$1: the kernel does not build"
	fi
	if printf '%s\n' "$out" | grep -q 'warning:'; then
		printf '%s\n' "$out" | grep -A3 'warning:' | head -n 40 >&2
		die "$1: the build warns"
	fi
	log "$1: built in $(( $(date +%s) - t0 )) s"
}

# configure for the pristine tree: the fragment asks for
# NVME_TARGET_MEM, which only the last patch adds, so the check of the
# fragment is build-kernel.sh's, not this one's
configure() {
	cat "${CONFIGS[@]}" >"$tree/.nvmet-mem-fragment"
	make -C "$tree" -s "${KMAKE_VARS[@]}" KCONFIG_ALLCONFIG=.nvmet-mem-fragment allnoconfig
}
configure
if [ ! -f "$tree/.series-check-base" ]; then
	log "building pristine $kver once (as long as the plain kernel)"
	kbuild "pristine $kver"
	touch "$tree/.series-check-base"
else
	kbuild "pristine $kver (reverted)"
fi

for p in "${PATCHES[@]}"; do
	name=$(basename "$p")
	patch -d "$tree" -p1 -N --batch --quiet --dry-run <"$p" >/dev/null ||
		die "$name does not apply on the patches before it"
	patch -d "$tree" -p1 -N --batch --quiet <"$p"
	cp "$p" "$tree/.series-check-patches/"
	echo "$name" >>"$applied"
	# a patch that adds Kconfig symbols (the last adds NVME_TARGET_MEM):
	# configure again, so that what it adds is built
	! grep -q '^+++ .*/Kconfig' "$p" || configure
	kbuild "$name"
done
grep -qx 'CONFIG_NVME_TARGET_MEM=m' "$tree/.config" ||
	die "the whole series did not enable CONFIG_NVME_TARGET_MEM"
[ -n "$(find "$tree/drivers/nvme/target" -name 'nvmet-mem.ko' -print -quit)" ] ||
	die "the whole series did not build nvmet-mem.ko"
log "${#PATCHES[@]} patches: every prefix builds as a kernel of its own, without warnings ($(( $(date +%s) - start )) s)"
