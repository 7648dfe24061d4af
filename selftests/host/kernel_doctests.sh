#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The kernel crate's doctests, built into the debug kernel as the KUnit suite
# rust_doctests_kernel (CONFIG_RUST_KERNEL_DOCTESTS, kernel/debug.config),
# pass: one boot whose KUnit filter selects that suite (every other guest's
# filter leaves it out, see scripts/vm.sh). The suite must pass whole, and
# every example of the rust/kernel/ files the series carries must have run
# as a case of its own: as many cases from each file as it has examples, so
# that an example that stops being built or run fails the test.
# Skipped on a kernel without the doctests (the plain one).
. "$(dirname "$0")/../../scripts/env.sh"
: "${KDIR:?KDIR: the kernel tree}"
if ! grep -qx CONFIG_RUST_KERNEL_DOCTESTS=y "$KDIR/.config"; then
	echo "# $(basename "$KDIR") has no kernel crate doctests"
	exit 4
fi
out=$(mktemp -d /tmp/nvmet-mem-doctests.XXXXXX)
echo "# guest output and log: $out"
echo 'exit 0' >"$out/boot.sh"
# (a log buffer that holds every case's lines: dmesg is what is read)
VM_KUNIT_FILTER=rust_doctests_kernel VM_APPEND=log_buf_len=4M KDIR=$KDIR \
	"$NVMET_MEM_TOP/scripts/vm.sh" -o "$out" -t 900 "$out/boot.sh" >"$out/host.log" 2>&1 ||
	{ sed 's/^/# /' "$out/host.log" | tail -n 30; echo "# the doctest boot failed"; exit 1; }
# FILE EXAMPLES for each rust/kernel/ file of the repository: the KUnit case
# names are rust_doctest_kernel_<path, '/' as '_'>_rs_<n>
# (an example is a fenced block that rustdoc compiles: no tag, `rust` or
# `no_run`, which the kernel's doctest generator runs too)
want=$(cd "$NVMET_MEM_TOP/rust/kernel" && find . -name '*.rs' | sort | while read -r f; do
	n=$(awk '/^[[:space:]]*\/\/[\/!][[:space:]]*```/ {
			tag = $0; sub(/.*```/, "", tag); gsub(/[[:space:]]/, "", tag)
			if (!open && tag ~ /^(rust)?(,?no_run)?$/) n++
			open = !open }
		END { print n + 0 }' "$f")
	f=${f#./}
	echo "${f%.rs} $n"
done)
python3 - "$out/dmesg" "$want" <<'PY' || exit 1
import re, sys
lines = [re.sub(r"^\[[^]]*\] ?", "", l) for l in open(sys.argv[1], errors="replace").read().splitlines()]
want = [(l.split()[0], int(l.split()[1])) for l in sys.argv[2].splitlines() if l.strip()]
suite = None
cases = {}
for l in lines:
    m = re.match(r"^\s*(not ok|ok) \d+ (\S+)(.*)$", l)
    if not m:
        continue
    if m.group(2) == "rust_doctests_kernel":
        suite = m.group(1)
    elif m.group(2).startswith("rust_doctest_kernel_"):
        cases[m.group(2)] = "skip" if "# SKIP" in m.group(3) else m.group(1)
bad = []
if suite != "ok":
    bad.append("suite rust_doctests_kernel: %s" % (suite or "not run"))
failed = sorted(c for c, r in cases.items() if r != "ok")
if failed:
    bad.append("cases not passed: " + " ".join(failed))
for path, n in want:
    name = "rust_doctest_kernel_" + path.replace("/", "_") + "_rs_"
    ran = [c for c in cases if re.fullmatch(re.escape(name) + r"\d+", c)]
    if len(ran) != n:
        bad.append("rust/kernel/%s.rs: %d examples, %d cases ran" % (path, n, len(ran)))
    else:
        print("# rust/kernel/%s.rs: %d examples ran" % (path, n))
if bad:
    print("# " + "\n# ".join(bad))
    sys.exit(1)
print("# rust_doctests_kernel: %d cases passed" % len(cases))
PY
