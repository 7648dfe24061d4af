#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything nvmet-mem needs on a fresh Debian 12 (bookworm) machine:
# kernel source (linux-source-7.3), clang-22/LLVM from bookworm-security
# (the LLVM of Debian's rustc 1.96, so that the kernel can inline C helpers
# into Rust: see kernel/guest.config), Debian's rustc 1.96 with its
# rust-src and clippy, bindgen-cli, virtme-ng, QEMU, fio, nvme-cli.
#
# Idempotent: a rerun checks each step and does nothing when it is satisfied.
# The Debian mirror is taken from the machine's own apt sources.
set -euo pipefail

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "step failed at line $LINENO: $BASH_COMMAND"' ERR

export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

KVER_PKG=linux-source-7.3
APT_PKGS=(
	clang-22 lld-22 llvm-22 libclang-22-dev
	rustc-web rust-web-src rust-web-clippy
	qemu-system-x86 fio nvme-cli kmod flex bison bc cpio libelf-dev
	libssl-dev iproute2 e2fsprogs busybox-static xz-utils zstd stress-ng
	python3-configshell-fb patch
)

# 1. extra suites, pinned low so that bookworm stays the default.
mirror_uri() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'BEGIN{RS=""} /Suites:[^\n]*bookworm( |\n|$)/ && !/security/ {
			if (match($0, /URIs:[ \t]*[^ \t\n]+/)) {
				s = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", s); print s; exit
			}
		}' "$f"
	done | head -n 1
	if [ -f /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list
	fi
}

SRC=/etc/apt/sources.list.d/nvmet-mem.sources
PREF=/etc/apt/preferences.d/nvmet-mem
if [ ! -f "$SRC" ]; then
	uri=$(mirror_uri | head -n 1)
	[ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list*"
	log "adding bookworm-backports, trixie, trixie-backports from $uri (low pin)"
	$SUDO tee "$SRC" >/dev/null <<EOT
Types: deb
URIs: $uri
Suites: bookworm-backports trixie trixie-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
	$SUDO tee "$PREF" >/dev/null <<EOT
Package: *
Pin: release n=trixie
Pin-Priority: 100

Package: *
Pin: release n=trixie-backports
Pin-Priority: 100

Package: *
Pin: release n=bookworm-backports
Pin-Priority: 100
EOT
	rm -f /var/lib/apt/periodic/nvmet-mem-updated
fi

pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for p in "${APT_PKGS[@]}"; do pkg_ok "$p" || missing+=("$p"); done
pkg_ok "$KVER_PKG" || missing+=("$KVER_PKG")

if [ ${#missing[@]} -gt 0 ]; then
	log "apt-get update"
	$SUDO apt-get update -qq
	if ! pkg_ok "$KVER_PKG"; then
		log "installing $KVER_PKG from trixie-backports"
		$SUDO apt-get install -y -qq -t trixie-backports "$KVER_PKG" >/dev/null
	fi
	rest=()
	for p in "${APT_PKGS[@]}"; do pkg_ok "$p" || rest+=("$p"); done
	if [ ${#rest[@]} -gt 0 ]; then
		log "installing ${rest[*]}"
		$SUDO apt-get install -y -qq --no-install-recommends "${rest[@]}" >/dev/null
	fi
else
	log "Debian packages: all present"
fi

ls /usr/src/linux-source-7.3*.tar.* >/dev/null 2>&1 ||
	die "$KVER_PKG installed but no tarball in /usr/src"

# 2. bindgen (the kernel needs >= 0.71.1; Debian 12 has none that new).
BINDGEN=${CARGO_HOME:-$HOME/.cargo}/bin/bindgen
if [ -x "$BINDGEN" ]; then
	log "bindgen: $("$BINDGEN" --version)"
else
	command -v cargo >/dev/null || die "cargo not found (needed to build bindgen-cli)"
	log "building bindgen-cli with cargo (a few minutes)"
	cargo install --locked --quiet bindgen-cli
fi

# 3. virtme-ng.
if command -v vng >/dev/null 2>&1; then
	log "virtme-ng: $(vng --version 2>&1 | head -n 1)"
else
	log "installing virtme-ng with pip"
	python3 -m pip install --quiet --disable-pip-version-check virtme-ng
	command -v vng >/dev/null 2>&1 || hash -r
	command -v vng >/dev/null 2>&1 || die "vng not on PATH after pip install"
fi

log "done"
