#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The patch series is bisectable: on pristine Linux 7.3 from
# linux-source-7.3, every prefix of patches/ applies cleanly, builds
# drivers/nvme/target (nvmet, its transports, and nvmet-mem once the last
# patch adds it) with W=1 and CLIPPY=1 and no warning, and adds no
# kernel-doc warning (which W=1 checks only in-tree, so it runs here on
# its own). The builds are external-module builds (M=) of the
# patched copy against the guest kernel tree $KDIR, one copy patched one
# patch at a time so that each build recompiles what the patch touched.
# Headers outside drivers/nvme/target come from $KDIR, which carries the
# whole series (a patch's change to include/ is additive), and so does the
# kernel crate: the patches to rust/kernel/ are applied here to check that
# they apply, and built with the kernel (scripts/build-kernel.sh) and, one
# prefix at a time, by make series-check.
. "$(dirname "$0")/../../scripts/env.sh"
KDIR=${KDIR:-$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)}
[ -f "$KDIR/Module.symvers" ] || { echo "# no built kernel in $KDIR"; exit 4; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
top=$(tar -tf "$KERNEL_TARBALL" | head -n 1 | cut -d/ -f1)
tar -C "$tmp" -xf "$KERNEL_TARBALL" "$top/drivers/nvme" "$top/include/linux/nvme.h" "$top/MAINTAINERS" \
	"$top/rust/kernel" "$top/rust/helpers" "$top/rust/bindings" || exit 1
src=$tmp/$top
# kernel-doc warnings of drivers/nvme/target, without line numbers
kdoc() {
	(cd "$src" && PYTHONDONTWRITEBYTECODE=1 python3 "$KDIR/scripts/kernel-doc" -none \
		drivers/nvme/target/*.[ch] 2>&1) | sed -E 's/:[0-9]+( |$)/\1/' | sort -u
}
build() {
	local out
	out=$(make -C "$KDIR" "${KMAKE_VARS[@]}" M="$src/drivers/nvme/target" \
		W=1 CLIPPY=1 -j"$JOBS" -s 2>&1) || { printf '%s\n' "$out" | tail -n 20 | sed 's/^/# /'; return 1; }
	if printf '%s\n' "$out" | grep -q 'warning:'; then
		printf '%s\n' "$out" | grep -A3 'warning:' | sed 's/^/# /'
		return 1
	fi
}
build || { echo "# pristine drivers/nvme/target does not build"; exit 1; }
kdoc >"$tmp/kdoc.base"
n=0
for p in $(series_patches); do
	patch -d "$src" -p1 -N --batch --quiet <"$p" ||
		{ echo "# $(basename "$p") does not apply"; exit 1; }
	! find "$src" -name '*.rej' | grep -q . || { echo "# $(basename "$p"): rejects"; exit 1; }
	build || { echo "# $(basename "$p"): W=1 build fails or warns"; exit 1; }
	if [ -d "$src/drivers/nvme/target/mem" ] && [ ! -f "$src/drivers/nvme/target/mem/nvmet-mem.ko" ]; then
		echo "# $(basename "$p"): nvmet-mem was not built (CONFIG_NVME_TARGET_MEM in $KDIR?)"; exit 1
	fi
	new=$(kdoc | comm -13 "$tmp/kdoc.base" -)
	[ -z "$new" ] || { printf '%s\n' "$new" | sed 's/^/# /'; echo "# $(basename "$p"): new kernel-doc warnings"; exit 1; }
	n=$((n + 1))
	echo "# $(basename "$p"): applies, builds with W=1, kernel-doc clean"
done
[ $n -gt 0 ] || { echo "# no patches"; exit 1; }
grep -q "nvmet_register_backend" "$src/drivers/nvme/target/core.c" || exit 1
echo "# $n patches: every prefix applies and builds"
