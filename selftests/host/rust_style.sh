#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The crate and the kernel crate files under rust/kernel/ are rustfmt-clean
# with the kernel's settings, and `make CLIPPY=1` reports nothing on the
# crate; every unsafe block has a SAFETY comment, and in the driver
# `unsafe` appears only in the FFI layer (glue.rs, glue/, entry.rs).
. "$(dirname "$0")/../../scripts/env.sh"
KDIR=${KDIR:-$("$NVMET_MEM_TOP/scripts/build-kernel.sh" --print-dir)}
cd "$NVMET_MEM_TOP" || exit 1
rc=0
rs=$(ls ./*.rs ./glue/*.rs)
rustfmt --edition 2021 --check --config-path "$KDIR/.rustfmt.toml" $rs ||
	{ echo "# rustfmt would change the files above"; rc=1; }
# The kernel crate files (whole copies of 7.3's, changed) declare child
# modules that only the kernel tree has: check them in a copy of its
# rust/kernel/ with ours laid over it.
krs=$(find rust/kernel -name '*.rs' | sort)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$KDIR/rust/kernel" "$tmp/"
for f in $krs; do cp "$f" "$tmp/${f#rust/}"; done
(cd "$tmp" && rustfmt --edition 2021 --check --config-path "$KDIR/.rustfmt.toml" ${krs//rust\//}) ||
	{ echo "# rustfmt would change the kernel crate files above"; rc=1; }
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
# in the kernel crate's style, a SAFETY comment may be longer: anywhere in
# the comment block right above the unsafe block (or on its line, or above
# the line that a `let ... =` broken before the block starts)
missing+=$(awk '{ l[FNR] = $0 }
	/unsafe[[:space:]]*\{/ && $0 !~ /^[[:space:]]*\/\// {
		ok = (l[FNR] ~ /SAFETY:/)
		i = FNR - 1
		if (i > 0 && l[i] ~ /=[[:space:]]*$/ && l[i] !~ /^[[:space:]]*\/\//) i--
		for (; i > 0 && l[i] ~ /^[[:space:]]*\/\//; i--) if (l[i] ~ /SAFETY:/) ok = 1
		if (!ok) print FILENAME ":" FNR }' $krs)
[ -z "$missing" ] || { echo "# unsafe without SAFETY: $missing"; rc=1; }
outside=$(grep -nE '\bunsafe\b' $(ls ./*.rs | grep -vxE './(glue|entry).rs') |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
[ -z "$outside" ] || { echo "# unsafe outside the FFI layer: $outside"; rc=1; }
exit $rc
