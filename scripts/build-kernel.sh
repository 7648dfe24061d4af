#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest kernel: Linux 7.3 from linux-source-7.3, the nvmet backend
# registry series from patches/ applied, kernel/guest.config on allnoconfig.
#
# The build tree is cached outside the work tree in $NVMET_MEM_CACHE. Its
# directory is keyed by kernel version and config hash; the patch series hash
# is recorded in it, so a series change reverts the old series, applies the
# new one and rebuilds only what it touches. A build stamp holding
# (version, series hash, config hash) makes a rerun with nothing changed a
# no-op. Prints the tree's path as the last line.
#
# usage: scripts/build-kernel.sh [--print-dir]
#
# NVMET_MEM_KERNEL=debug (the default for the test suite, see
# selftests/run.sh) adds kernel/debug.config: KASAN, lockdep, kmemleak,
# fault injection. NVMET_MEM_KERNEL=plain is the non-debug kernel that
# `make run`, `make bench` and `make blktests` use; it adds
# kernel/plain.config (NVMe multipath and auth, XFS, ublk).
set -euo pipefail
LOG_TAG=kernel
. "$(dirname "$0")/env.sh"

[ -n "$KERNEL_TARBALL" ] || die "no /usr/src/linux-source-7.3.tar.*: run scripts/setup.sh"
CONFIGS=("$NVMET_MEM_TOP/kernel/guest.config")
case "${NVMET_MEM_KERNEL:-plain}" in
plain) CONFIGS+=("$NVMET_MEM_TOP/kernel/plain.config") ;;
debug) CONFIGS+=("$NVMET_MEM_TOP/kernel/debug.config") ;;
*) die "NVMET_MEM_KERNEL must be plain or debug" ;;
esac
mapfile -t PATCHES < <(series_patches)

kver=$(basename "$KERNEL_TARBALL" | sed 's/\.tar\..*//; s/^linux-source-//')
cfg_hash=$(hash_files "${CONFIGS[@]}")
ser_hash=$(hash_files "${PATCHES[@]}" /dev/null)
tree="$NVMET_MEM_CACHE/linux-$kver-$cfg_hash"
key="$kver $ser_hash $cfg_hash"

if [ "${1:-}" = "--print-dir" ]; then echo "$tree"; exit 0; fi

# one kernel build at a time (scripts/series-check.sh takes the lock too);
# a caller that waited sees the other's result below
mkdir -p "$NVMET_MEM_CACHE"
exec 8>"$NVMET_MEM_CACHE/.kernel-build.lock"
flock 8

if [ -f "$tree/.nvmet-mem-built" ] && [ "$(cat "$tree/.nvmet-mem-built")" = "$key" ] &&
   [ -f "$tree/arch/x86/boot/bzImage" ]; then
	log "kernel up to date ($key)"
	echo "$tree"
	exit 0
fi

mkdir -p "$NVMET_MEM_CACHE"
if [ ! -f "$tree/Makefile" ]; then
	log "extracting $KERNEL_TARBALL"
	tmp=$(mktemp -d "$NVMET_MEM_CACHE/extract.XXXXXX")
	tar -C "$tmp" -xf "$KERNEL_TARBALL"
	rm -rf "$tree"
	mv "$tmp"/linux-source-* "$tree"
	rmdir "$tmp"
fi
rm -f "$tree/.nvmet-mem-built"

# --- patch series ---
applied="$tree/.nvmet-mem-series"
if [ "$(cat "$applied/hash" 2>/dev/null)" != "$ser_hash" ]; then
	if [ -d "$applied" ]; then
		log "reverting the previously applied series"
		for p in $(ls "$applied"/*.patch 2>/dev/null | sort -r); do
			patch -d "$tree" -p1 -R --batch --quiet <"$p" ||
				die "cannot revert $(basename "$p"): delete $tree and rerun"
		done
		rm -rf "$applied"
	fi
	mkdir -p "$applied.new"
	for p in "${PATCHES[@]}"; do
		log "applying $(basename "$p")"
		patch -d "$tree" -p1 -N --batch --quiet --dry-run <"$p" >/dev/null ||
			die "patch $(basename "$p") does not apply to Linux $kver"
		patch -d "$tree" -p1 -N --batch --quiet <"$p"
		cp "$p" "$applied.new/"
	done
	echo "$ser_hash" >"$applied.new/hash"
	mv "$applied.new" "$applied"
	# A series may add or drop Kconfig symbols (the last patch adds
	# NVME_TARGET_MEM): configure again, or the build stops to ask.
	rm -f "$tree/.nvmet-mem-config"
fi

# --- config ---
if [ "$(cat "$tree/.nvmet-mem-config" 2>/dev/null)" != "$cfg_hash" ]; then
	log "configuring: allnoconfig + ${CONFIGS[*]##*/}"
	cat "${CONFIGS[@]}" >"$tree/.nvmet-mem-fragment"
	make -C "$tree" -s "${KMAKE_VARS[@]}" KCONFIG_ALLCONFIG=.nvmet-mem-fragment allnoconfig
	make -C "$tree" -s "${KMAKE_VARS[@]}" rustavailable >/dev/null ||
		die "Rust toolchain not usable by the kernel (make rustavailable)"
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=[ym]|CONFIG_*=[0-9]*|CONFIG_*=\"*)
			grep -qx "$line" "$tree/.config" || {
				echo "  missing from .config: $line" >&2; bad=1; }
			;;
		CONFIG_*=n)
			grep -q "^${line%=n}=" "$tree/.config" && {
				echo "  should be off: $line" >&2; bad=1; }
			;;
		esac
	done <"$tree/.nvmet-mem-fragment"
	[ $bad -eq 0 ] || die "config fragment not honoured (dependencies missing?)"
	echo "$cfg_hash" >"$tree/.nvmet-mem-config"
fi

log "building bzImage and modules with -j$JOBS"
start=$(date +%s)
make -C "$tree" -s -j"$JOBS" "${KMAKE_VARS[@]}" bzImage modules
log "kernel built in $(( $(date +%s) - start ))s"
echo "$key" >"$tree/.nvmet-mem-built"
echo "$tree"
