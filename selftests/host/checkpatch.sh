#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The kernel patch series and the module's C file are checkpatch --strict
# clean.
. "$(dirname "$0")/../../scripts/env.sh"
KDIR=${KDIR:-$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)}
cp=$KDIR/scripts/checkpatch.pl
[ -f "$cp" ] || { echo "# no checkpatch.pl in $KDIR"; exit 4; }
rc=0
mapfile -t patches < <(series_patches)
out=$(perl "$cp" --strict --no-tree --quiet "${patches[@]}" 2>&1) || rc=1
out2=$(perl "$cp" --strict --no-tree --quiet -f "$NVMET_MEM_TOP"/nvmet_mem_glue.[ch] 2>&1) || rc=1
[ -z "$out$out2" ] || printf '%s\n%s\n' "$out" "$out2" | sed 's/^/# /'
exit $rc
