#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# patches/ is what `make series` writes: its last patch, which adds
# nvmet-mem to drivers/nvme/target/mem/, carries this repository's sources
# byte for byte, so the module in the tree and the one built out of it
# cannot drift apart.
. "$(dirname "$0")/../../scripts/env.sh"
out=$("$NVMET_MEM_TOP/scripts/series.sh" --check 2>&1)
rc=$?
[ -z "$out" ] || printf '%s\n' "$out" | sed 's/^/# /'
[ $rc -eq 0 ] || echo "# run 'make series' and commit patches/"
exit $rc
