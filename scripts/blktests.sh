#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make blktests`: upstream blktests' nvme group against mem namespaces and
# against blktests' own file namespaces, over nvme-loop and nvme-tcp, in one
# guest on the plain kernel (which has NVMe multipath, host and target
# authentication and XFS; kernel/plain.config), then a table of every test
# with its status for file and for mem side by side.
#
# blktests is not packaged for Debian: it is taken from ../shared/blktests
# (an unmodified upstream copy; BLKTESTS_SRC overrides), copied to the
# run's output directory and patched with patches/blktests/, which adds "mem" to
# NVMET_BLKDEV_TYPES. Without that copy this prints why and exits 0.
#
# Environment:
#   BLKTESTS_SRC        upstream blktests tree (default ../shared/blktests)
#   BLKTESTS_TRTYPES    transports (default "loop tcp")
#   BLKTESTS_TYPES      namespace types (default "file mem")
#   BLKTESTS_TESTS      tests to run (default: the nvme group, "nvme")
#   BLKTESTS_IMG_SIZE   NVME_IMG_SIZE (default 512M: a file in the guest's
#                       tmpfs or a thin memory object; nvme/012 needs 350M)
#
# The table goes to stdout and to OUTDIR/table.txt; the full blktests
# output and results are in OUTDIR (printed at the end). Exit status 0 if
# every test that passes with file passes with mem, 1 otherwise.
set -euo pipefail
LOG_TAG=blktests
. "$(dirname "$0")/env.sh"

src=${BLKTESTS_SRC:-$NVMET_MEM_TOP/../shared/blktests}
if [ ! -x "$src/check" ]; then
	log "no blktests at $src (the upstream copy in ../shared is absent): skipping"
	exit 0
fi

# What blktests needs beyond the test suite's packages, installed by this
# target only: GNU awk (./check refuses to run without it) and mkfs.xfs
# (nvme/012, 047). udevadm: see guest-blktests.sh.
pkgs=()
command -v gawk >/dev/null || pkgs+=(gawk)
command -v mkfs.xfs >/dev/null || pkgs+=(xfsprogs)
if [ ${#pkgs[@]} -gt 0 ]; then
	log "installing ${pkgs[*]}"
	SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null ||
		die "cannot install ${pkgs[*]} (run scripts/setup.sh first)"
fi

export NVMET_MEM_KERNEL=plain
KDIR=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" | tail -n 1)
export KDIR

out=$(mktemp -d /tmp/nvmet-mem-blktests.XXXXXX)
# a copy per run, so that runs at once do not share one
bt=$out/blktests
log "copying $src to $bt and applying patches/blktests/"
cp -r "$src" "$bt"
for p in "$NVMET_MEM_TOP"/patches/blktests/*.patch; do
	patch -d "$bt" -p1 -s --batch <"$p" || die "$(basename "$p") does not apply to $src"
done
# src/ holds helpers of a few tests (nvme/064, 067, 069); the others run
# without it
make -C "$bt" -s -j"$JOBS" >"$bt/make.log" 2>&1 ||
	log "blktests' helpers did not all build (see $bt/make.log); the tests that need them do not run"

log "running ${BLKTESTS_TESTS:-the nvme group} in the guest; output in $out"
rc=0
VM_NVME_MULTIPATH=Y VM_MEMORY=${VM_MEMORY:-4G} "$NVMET_MEM_TOP/scripts/vm.sh" -o "$out" \
	-t "${BLKTESTS_TIMEOUT:-10800}" "$NVMET_MEM_TOP/scripts/guest-blktests.sh" "$bt" \
	"${BLKTESTS_TYPES:-file mem}" "${BLKTESTS_TRTYPES:-loop tcp}" "${BLKTESTS_IMG_SIZE:-512M}" \
	${BLKTESTS_TESTS:-nvme} >"$out/host.log" 2>&1 || rc=$?
grep -E '^\[vm\]' "$out/host.log" || true
[ $rc -eq 0 ] || log "guest exit status $rc (see $out/host.log, $out/reports)"
python3 "$NVMET_MEM_TOP/scripts/blktests-table.py" "$out" | tee "$out/table.txt"
status=${PIPESTATUS[0]}
log "output and blktests results: $out"
[ $rc -eq 0 ] && exit "$status"
exit 1
