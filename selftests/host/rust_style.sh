#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The crate is rustfmt-clean with the kernel's settings and `make CLIPPY=1`
# reports nothing; every unsafe block has a SAFETY comment, and `unsafe`
# appears only in the FFI layer (ffi.rs, ffi/, entry.rs).
. "$(dirname "$0")/../../scripts/env.sh"
KDIR=${KDIR:-$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)}
cd "$NVMET_MEM_TOP" || exit 1
rc=0
rs=$(ls ./*.rs ./ffi/*.rs)
rustfmt --edition 2021 --check --config-path "$KDIR/.rustfmt.toml" $rs ||
	{ echo "# rustfmt would change the files above"; rc=1; }
touch nvmet_mem.rs
out=$(make_module "$KDIR" CLIPPY=1 2>&1) ||
	{ echo "$out" | tail -n 20; rc=1; }
if echo "$out" | grep -qE '^(warning|error)'; then
	echo "$out" | grep -A8 -E '^(warning|error)' | head -n 40
	rc=1
fi
missing=$(awk '{ l[FNR] = $0 }
	/unsafe[[:space:]]*\{/ && $0 !~ /^[[:space:]]*\/\// {
		ok = 0; for (i = FNR; i >= FNR - 3 && i > 0; i--) if (l[i] ~ /SAFETY:/) ok = 1
		if (!ok) print FILENAME ":" FNR }' $rs)
[ -z "$missing" ] || { echo "# unsafe without SAFETY: $missing"; rc=1; }
outside=$(grep -nE '\bunsafe\b' $(ls ./*.rs | grep -vxE './(ffi|entry).rs') |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
[ -z "$outside" ] || { echo "# unsafe outside the FFI layer: $outside"; rc=1; }
exit $rc
