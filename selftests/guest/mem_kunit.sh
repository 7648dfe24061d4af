#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The module's KUnit suites (range splitting, the page store: insertion race,
# deallocation over holes, page counter and cap; LBA math, size parsing;
# injection rules) run when it is loaded and all pass. Every suite the
# module's sources define (each `#[kunit_tests(NAME)]`) must report, with as
# many passed cases as its source has `#[test]` functions: a suite or a case
# that vanishes fails the test.
. "$(dirname "$0")/../lib.sh"
load_nvmet
if mem_loaded; then rmmod nvmet_mem || fail "module busy: cannot reload it to run its KUnit suites"; fi
log_mark
insmod "$MEM_KO" || fail "insmod"
sleep 1
log=$(log_since)
# SUITE CASES for each suite of the sources
want=$(for f in "$NVMET_MEM_TOP"/*.rs; do
	sed -n '/#\[kunit_tests(/,$p' "$f" | awk '
		/#\[kunit_tests\(/ { if (s) print s, n; s = $0; sub(/.*#\[kunit_tests\(/, "", s); sub(/\).*/, "", s); n = 0 }
		/#\[test\]/ { n++ }
		END { if (s) print s, n }'
done)
[ "$(echo "$want" | grep -c .)" -ge 4 ] || fail "found only these KUnit suites in the sources: $want"
echo "$log" | python3 -c '
import re, sys
want = dict((l.split()[0], int(l.split()[1])) for l in sys.argv[1].splitlines() if l.strip())
lines = [re.sub(r"^\[[^]]*\] ?", "", l) for l in sys.stdin.read().splitlines()]
bad = []
for suite, cases in want.items():
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "# Subtest: " + suite)
    except StopIteration:
        bad.append("%s: not run" % suite)
        continue
    passed = failed = 0
    result = None
    for l in lines[start + 1:]:
        m = re.match(r"^(\s*)(not ok|ok) \d+ (\S+)(.*)$", l)
        if not m:
            continue
        if m.group(3) == suite:
            result = m.group(2)
            break
        if "# SKIP" in m.group(4) or m.group(2) == "not ok":
            failed += 1
        else:
            passed += 1
    if result != "ok" or failed or passed != cases:
        bad.append("%s: result %s, %d cases passed, %d failed or skipped, %d defined"
                   % (suite, result, passed, failed, cases))
    else:
        print("# suite %s: %d of %d cases passed" % (suite, passed, cases))
if bad:
    print("# " + "\n# ".join(bad))
    sys.exit(1)
' "$want" || fail "a KUnit suite did not pass whole"
if echo "$log" | grep -qE "not ok"; then fail "a KUnit case failed"; fi
msg "$(echo "$want" | wc -l) KUnit suites, $(echo "$want" | awk '{ n += $2 } END { print n }') cases, all passed"
