#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The patch series applies cleanly, in order, to pristine Linux 7.3
# drivers/nvme/target from linux-source-7.3.
. "$(dirname "$0")/../../scripts/env.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
top=$(tar -tf "$KERNEL_TARBALL" | head -n 1 | cut -d/ -f1)
tar -C "$tmp" -xf "$KERNEL_TARBALL" "$top/drivers/nvme/target" || exit 1
n=0
for p in "$NVMET_MEM_TOP"/patches/*.patch; do
	patch -d "$tmp/$top" -p1 -N --batch --quiet <"$p" ||
		{ echo "# $(basename "$p") does not apply"; exit 1; }
	n=$((n + 1))
done
[ $n -gt 0 ] || { echo "# no patches"; exit 1; }
! find "$tmp/$top" -name '*.rej' | grep -q . || { echo "# rejects"; exit 1; }
grep -q "nvmet_register_backend" "$tmp/$top/drivers/nvme/target/core.c" || exit 1
echo "# $n patches apply"
