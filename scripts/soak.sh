#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The long soak, on the debug kernel: selftests/guest/mem_soak.sh for
# SECONDS (default 1800) per phase in one guest, then the store torture
# (mem_torture.sh) for SECONDS / 4 per run (four runs) in another. Exit
# status non-zero if either test fails or on any kernel report.
#   scripts/soak.sh [SECONDS]
set -euo pipefail
LOG_TAG=soak
. "$(dirname "$0")/env.sh"
secs=${1:-1800}
export NVMET_MEM_KERNEL=${NVMET_MEM_KERNEL:-debug}
"$NVMET_MEM_TOP/scripts/setup.sh"
"$NVMET_MEM_TOP/scripts/build-kernel.sh" | tail -n 1
KDIR=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)
export KDIR
make_module "$KDIR" -s
"$NVMET_MEM_TOP/scripts/vm.sh" -t $((secs * 3 + 900)) \
	"$NVMET_MEM_TOP/selftests/guest/mem_soak.sh" "$secs"
"$NVMET_MEM_TOP/scripts/vm.sh" -t $((secs + 900)) \
	"$NVMET_MEM_TOP/selftests/guest/mem_torture.sh" $((secs / 4))
