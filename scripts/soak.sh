#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The long soak, on the debug kernel: selftests/guest/mem_soak.sh for
# SECONDS (default 1800) per phase in one guest, then the store torture
# (mem_torture.sh) for SECONDS / 4 per run (all four runs; make check runs
# two) in another, then the
# protocol fuzz (mem_fuzz.sh) with SOAK_FUZZ_COUNT (default 10000) commands
# over loop and over tcp, one guest each, then the races under I/O
# (mem_races.sh) with 40 iterations, then what make check leaves out: the data path over loop with 4096-byte blocks, over tcp
# with 512, over tcp in a network namespace (both sizes) and over rdma with
# 512 (make check runs loop 512, tcp and rdma 4096), no-data reads over
# rdma, and ext4 over tcp.
# Exit status non-zero if a test fails or on any kernel report.
#   scripts/soak.sh [SECONDS]
set -euo pipefail
LOG_TAG=soak
. "$(dirname "$0")/env.sh"
secs=${1:-1800}
fuzz=${SOAK_FUZZ_COUNT:-10000}
export NVMET_MEM_KERNEL=${NVMET_MEM_KERNEL:-debug}
"$NVMET_MEM_TOP/scripts/setup.sh"
"$NVMET_MEM_TOP/scripts/build-kernel.sh" | tail -n 1
KDIR=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)
export KDIR
make_module "$KDIR" -s
"$NVMET_MEM_TOP/scripts/vm.sh" -t $((secs * 3 + 900)) \
	"$NVMET_MEM_TOP/selftests/guest/mem_soak.sh" "$secs"
"$NVMET_MEM_TOP/scripts/vm.sh" -t $((secs + 900)) \
	"$NVMET_MEM_TOP/selftests/guest/mem_torture.sh" $((secs / 4)) all
for tr in loop tcp; do
	"$NVMET_MEM_TOP/scripts/vm.sh" -t $((fuzz / 10 + 900)) \
		"$NVMET_MEM_TOP/selftests/guest/mem_fuzz.sh" "$tr" "$fuzz"
done
# the races under I/O (not in make check, which keeps mem_remove_under_io
# and mem_configfs_races)
"$NVMET_MEM_TOP/scripts/vm.sh" -t 3600 "$NVMET_MEM_TOP/selftests/guest/mem_races.sh" 40
# transport runs that make check leaves out
for run in "loop mem 4096" "tcp mem 512" "tcp-netns mem 512" "tcp-netns mem 4096" \
	"rdma mem 512"; do
	# shellcheck disable=SC2086 # word splitting of $run is intended
	"$NVMET_MEM_TOP/scripts/vm.sh" -t 1800 \
		"$NVMET_MEM_TOP/selftests/guest/transport_data.sh" $run
done
"$NVMET_MEM_TOP/scripts/vm.sh" -t 1800 "$NVMET_MEM_TOP/selftests/guest/mem_nodata_leak.sh" rdma
"$NVMET_MEM_TOP/scripts/vm.sh" -t 1800 "$NVMET_MEM_TOP/selftests/guest/mem_ext4_tcp.sh"
