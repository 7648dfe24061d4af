#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of `make blktests`: each test and transport, with its status
for every namespace type side by side, from the result files blktests wrote
under OUTDIR/<type>/results/ and the reasons it printed for a test it did
not run (OUTDIR/<type>/check.log). Exit 1 if a test passes with file but
not with mem.

    blktests-table.py OUTDIR
"""
import os
import re
import sys

SHORT = {"pass": "pass", "fail": "FAIL", "not run": "skip"}


def results(tdir):
    """{(test, condition): status} of one namespace type's run."""
    got = {}
    root = os.path.join(tdir, "results")
    for cond in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        # nodev_tr_loop_bd_mem, nodev_tr_tcp, nodev: the transport is what
        # the two runs share; the namespace type is the column
        key = re.sub(r"_bd_[a-z]+$", "", cond).replace("nodev_", "").replace("nodev", "-")
        key = key.replace("tr_", "")
        group = os.path.join(root, cond, "nvme")
        if not os.path.isdir(group):
            continue
        for name in os.listdir(group):
            if not re.fullmatch(r"\d{3}", name):
                continue
            fields = {}
            with open(os.path.join(group, name)) as f:
                for line in f:
                    k, _, v = line.rstrip("\n").partition("\t")
                    fields[k] = v
            got[("nvme/" + name, key)] = SHORT.get(fields.get("status"), fields.get("status", "?"))
    return got


def console(tdir):
    """{(test, condition): status} from the console output, for a run that
    did not finish (its result files are copied out at the end)."""
    got = {}
    try:
        lines = open(os.path.join(tdir, "check.log"), errors="replace").read().splitlines()
    except OSError:
        return got
    names = {"passed": "pass", "failed": "FAIL", "not run": "skip"}
    for line in lines:
        m = re.match(r"(nvme/\d{3}) (?:\(tr=(\w+)[^)]*\) )?.*\[(passed|failed|not run)\]\s*$", line)
        if m:
            got[(m.group(1), m.group(2) or "-")] = names[m.group(3)]
    return got


def reasons(tdir):
    """{test: the first reason given for not running it}"""
    why, last = {}, None
    try:
        lines = open(os.path.join(tdir, "check.log"), errors="replace").read().splitlines()
    except OSError:
        return why
    for line in lines:
        m = re.match(r"(nvme/\d{3})\b.*\[not run\]\s*$", line)
        if m:
            last = m.group(1)
            continue
        if last and line.startswith("    ") and last not in why:
            why[last] = line.strip()
            last = None
        elif not line.startswith("    "):
            last = None
    return why


def main():
    out = sys.argv[1]
    types = [t for t in ("file", "mem", "device") if os.path.isdir(os.path.join(out, t))]
    if not types:
        print("no blktests results in %s" % out)
        return 1
    runs = {t: results(os.path.join(out, t)) or console(os.path.join(out, t)) for t in types}
    why = {t: reasons(os.path.join(out, t)) for t in types}
    keys = sorted(set(k for r in runs.values() for k in r))
    print("%-9s %-5s %s   %s" % ("test", "tr", " ".join("%-5s" % t for t in types),
                                 "why not run (mem)"))
    for k in keys:
        st = [runs[t].get(k, "-") for t in types]
        note = why.get("mem", {}).get(k[0], "") if runs.get("mem", {}).get(k) == "skip" else ""
        print("%-9s %-5s %s   %s" % (k[0], k[1], " ".join("%-5s" % s for s in st), note))
    for t in types:
        c = {s: sum(1 for v in runs[t].values() if v == s) for s in ("pass", "FAIL", "skip")}
        print("%s: %d passed, %d failed, %d not run" % (t, c["pass"], c["FAIL"], c["skip"]))
    bad = []
    if "file" in runs and "mem" in runs:
        bad = [k for k in keys if runs["file"].get(k) == "pass" and runs["mem"].get(k) != "pass"]
        print("passes with file but not with mem: %s" %
              (" ".join("%s(%s)" % k for k in bad) if bad else "none"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
