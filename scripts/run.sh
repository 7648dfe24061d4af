#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The main job: set up the machine (idempotent), build the patched guest
# kernel (cached) and the module, boot a guest, create a namespace served by
# the "mem" backend, export it over nvme-loop, connect a host to it, do I/O
# and print what happened.
set -euo pipefail
LOG_TAG=run
. "$(dirname "$0")/env.sh"

"$NVMET_MEM_TOP/scripts/setup.sh"
"$NVMET_MEM_TOP/scripts/build-kernel.sh" | tail -n 1
KDIR=$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)
export KDIR
log "building the module"
make_module "$KDIR" -s
out=$(mktemp -d /tmp/nvmet-mem-run.XXXXXX)
"$NVMET_MEM_TOP/scripts/vm.sh" -o "$out" -t 900 "$NVMET_MEM_TOP/scripts/guest-main.sh"
