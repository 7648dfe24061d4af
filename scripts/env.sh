# SPDX-License-Identifier: GPL-2.0
# Sourced by the other scripts: toolchain and cache locations.
# Every variable can be overridden from the environment.

NVMET_MEM_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
: "${NVMET_MEM_CACHE:=$HOME/.cache/nvmet-mem}"
: "${KERNEL_TARBALL:=$(ls /usr/src/linux-source-7.3.tar.* 2>/dev/null | head -n 1)}"
: "${JOBS:=$(( $(nproc) + 1 ))}"

# Debian's rustc 1.96 with its rust-src; rustup's rustc comes first in
# PATH on these machines and has no rust-src, so name it explicitly.
# clang 22 is on that rustc's LLVM, as CONFIG_RUST_INLINE_HELPERS requires.
KMAKE_VARS=(
	LLVM=-22
	RUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	RUST_LIB_SRC=/usr/lib/rustlib/src/rust/library
	BINDGEN="${CARGO_HOME:-$HOME/.cargo}/bin/bindgen"
	CLIPPY_DRIVER=/usr/bin/clippy-driver
)
export LIBCLANG_PATH=/usr/lib/llvm-22/lib
export PATH="$HOME/.local/bin:$PATH"

log() { printf '[%s] %s\n' "${LOG_TAG:-nvmet-mem}" "$*"; }
die() { printf '[%s] ERROR: %s\n' "${LOG_TAG:-nvmet-mem}" "$*" >&2; exit 1; }

hash_files() { cat "$@" 2>/dev/null | sha256sum | cut -c1-12; }

# The module as built for kernel tree $1 is kept in "$1.module", so that the
# guest loads the module of its own kernel even when the work tree has been
# rebuilt for the other one (plain or debug) since.
module_dir() { echo "$1.module"; }
# series_patches: the kernel patches of patches/, in order, one path per
# line, without the cover letter (0000), which has no diff.
series_patches() {
	local p
	for p in "$NVMET_MEM_TOP"/patches/*.patch; do
		case $p in */0000-cover-letter.patch) ;; *) [ -e "$p" ] && echo "$p" ;; esac
	done
}

# make_module KDIR [make args...]: build nvmet-mem.ko for KDIR, keep a copy.
make_module() {
	local kdir=$1
	shift
	make -C "$kdir" "${KMAKE_VARS[@]}" M="$NVMET_MEM_TOP" CONFIG_NVME_TARGET_MEM=m "$@" modules || return
	mkdir -p "$(module_dir "$kdir")"
	cp "$NVMET_MEM_TOP/nvmet-mem.ko" "$(module_dir "$kdir")/"
}
