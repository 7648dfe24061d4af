#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs in the guest for scripts/blktests.sh: blktests once per namespace
# type, each over every transport given. The blktests tree is read-only
# here; each type's config, console output and results go to
# NVMET_MEM_OUT/<type>/.
#   guest-blktests.sh BLKTESTS_DIR "TYPES" "TRTYPES" IMG_SIZE [TEST...]
set -u
bt=${1:?usage: guest-blktests.sh BLKTESTS_DIR TYPES TRTYPES IMG_SIZE [TEST...]}
types=$2 trtypes=$3 img_size=$4
shift 4
[ $# -gt 0 ] || set -- nvme
out=${NVMET_MEM_OUT:?}

# blktests reads the kernel's options from /proc/config.gz (IKCONFIG_PROC)
# and loads every driver it needs with modprobe, nvmet-mem included (the
# plain kernel builds it in the tree, from the series' last patch).
modprobe nvme-core
# ./check wants udevadm, for `udevadm settle` after a connect. This guest
# runs no udevd (devtmpfs makes the device nodes), so there is nothing to
# settle: a stand-in that says so, rather than udev on the host (whose
# udevd virtme-ng would then start in every guest, with nvme-cli's
# autoconnect rules, which blktests asks to have off).
if ! command -v udevadm >/dev/null; then
	mkdir -p /tmp/nvmet-mem-bin
	printf '#!/bin/sh\n# no udevd in this guest: nothing to settle\nexit 0\n' \
		>/tmp/nvmet-mem-bin/udevadm
	chmod +x /tmp/nvmet-mem-bin/udevadm
	export PATH=/tmp/nvmet-mem-bin:$PATH
fi
echo "kernel $(uname -r), nvme_core multipath $(cat /sys/module/nvme_core/parameters/multipath)"
for type in $types; do
	mkdir -p "$out/$type"
	cat >"$out/$type/config" <<EOC
NVMET_TRTYPES="$trtypes"
NVMET_BLKDEV_TYPES="$type"
nvmet_blkdev_type="$type"
NVME_IMG_SIZE=$img_size
EOC
	echo "=== blktests $*: namespace type $type, transports $trtypes"
	t0=$SECONDS
	# results (and the file type's image) on a tmpfs of their own, which
	# has O_DIRECT, unlike the shared directory; copied out afterwards
	res=/tmp/nvmet-mem-blktests-$type
	mkdir -p "$res" && mount -t tmpfs -o size=2G none "$res" || exit 1
	(cd "$bt" && ./check -c "$out/$type/config" -o "$res" "$@") >"$out/$type/check.log" 2>&1
	echo "=== $type: ./check exit $? after $((SECONDS - t0)) s"
	cp -r "$res" "$out/$type/results"
	umount "$res"
done
