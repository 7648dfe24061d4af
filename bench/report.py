#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Report of a `make bench` run (see scripts/bench.sh).

    report.py --raw DIR --out DIR [--plain DIR] [--wall SECONDS]

--raw is what bench/guest-bench.sh wrote: rep<R>/<backend>/<transport>/
<workload>.json (fio JSON) and meta.tsv. Writes to --out:
  results.md    the table (medians, min-max over the reps), the ratios, notes
  results.svg   grouped bars of median IOPS, one panel per transport
  results.json  the numbers extracted from every fio run, and the medians
and prints one line per comparison:
  ratio <workload> <transport> mem/<peer> <median mem IOPS / median peer IOPS>
  ratio <workload> <transport> mem_wq/<peer> <...>   (peers through nvmet_wq)
  cost <workload> <transport> <backend>-<no-data peer> <instructions per I/O>
--plain adds the table of a second run without icount (wall clock).
The plot is drawn by hand (plain SVG): no plotting library needed.
"""

import argparse
import datetime
import json
import math
import os
import statistics
import sys
from xml.sax.saxutils import escape

BACKENDS = ["mem", "mem_wq", "mem_base", "ceiling", "brd", "null_blk", "null_blk_nodata", "file", "ublk"]
# mem_base: nvmet-mem built from another commit (BENCH_BASE), for before/after
PEERS = ["brd", "null_blk", "null_blk_nodata", "file", "ublk", "ceiling", "mem_wq", "mem_base"]
# mem_wq: nvmet-mem with nowait=0, through nvmet_wq over loop as the bdev and
# file backends are: compared with those in the same execution context
WQ_PEERS = ["brd", "null_blk", "null_blk_nodata", "file", "ublk"]
# the backend's own cost: instructions per I/O of a backend minus those of
# a no-data backend on the same execution path
COSTS = [("mem", "ceiling"), ("brd", "null_blk_nodata"), ("null_blk", "null_blk_nodata")]
CAVEAT = (
    "Instruction counts under icount: no cache misses, memory bandwidth, lock contention "
    "or true parallelism."
)
TRANSPORTS = ["loop", "loop-passthru", "tcp", "tcp-passthru"]
WORKLOADS = [
    "randread-4k-qd1",
    "randread-4k-qd32",
    "randwrite-4k-qd1",
    "randwrite-4k-qd32",
    "read-128k-qd8",
    "write-128k-qd8",
]
COLORS = {
    "mem": "#d62728",
    "mem_wq": "#e377c2",
    "mem_base": "#ffbb78",
    "ceiling": "#ff9896",
    "brd": "#1f77b4",
    "null_blk": "#2ca02c",
    "null_blk_nodata": "#98df8a",
    "file": "#9467bd",
    "ublk": "#8c564b",
}
METRICS = ["iops", "mib_s", "p50_us", "p99_us", "cpu"]


def order(names, known):
    """Known names in their fixed order, then the others sorted."""
    return [n for n in known if n in names] + sorted(n for n in names if n not in known)


def read_meta(raw):
    meta, notes = {}, []
    path = os.path.join(raw, "meta.tsv")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition("\t")
                if k == "note":
                    notes.append(v)
                elif k == "overhead":
                    meta.setdefault("overhead", []).append([int(x) for x in v.split()])
                else:
                    meta[k] = v
    return meta, notes


def parse_job(j):
    """The numbers of one job entry (group_reporting: one per workload)."""
    rd, wr = j["read"], j["write"]
    d = rd if rd["io_bytes"] >= wr["io_bytes"] else wr

    def pct(kind, p):
        return d.get(kind, {}).get("percentile", {}).get(p, float("nan")) / 1000

    return {
        "iops": rd["iops"] + wr["iops"],
        "mib_s": (rd["bw_bytes"] + wr["bw_bytes"]) / 2**20,
        "p50_us": pct("lat_ns", "50.000000"),
        "p99_us": pct("lat_ns", "99.000000"),
        "clat_p50_us": pct("clat_ns", "50.000000"),
        "clat_p99_us": pct("clat_ns", "99.000000"),
        "cpu": j["usr_cpu"] + j["sys_cpu"],
        "ios": rd["total_ios"] + wr["total_ios"],
    }


def parse_file(path):
    """{workload: numbers} of one fio JSON (fio may print warnings first)."""
    with open(path) as f:
        text = f.read()
    return {j["jobname"]: parse_job(j) for j in json.loads(text[text.index("{") :])["jobs"]}


def load(raw):
    """runs[(backend, transport, workload)] = [per-rep dicts]."""
    runs = {}
    for rep in sorted(os.listdir(raw)):
        if not rep.startswith("rep"):
            continue
        for b in os.listdir(os.path.join(raw, rep)):
            for fn in os.listdir(os.path.join(raw, rep, b)):
                if not fn.endswith(".json"):
                    continue
                try:
                    jobs = parse_file(os.path.join(raw, rep, b, fn))
                except (ValueError, KeyError, IndexError) as e:
                    print(f"report: skipping {rep}/{b}/{fn}: {e}", file=sys.stderr)
                    continue
                for w, r in jobs.items():
                    r["rep"] = int(rep[3:])
                    runs.setdefault((b, fn[:-5], w), []).append(r)
    return runs


def summarize(runs):
    """stats[key][metric] = (median, min, max)."""
    stats = {}
    for key, rs in runs.items():
        stats[key] = {}
        for m in METRICS:
            v = [r[m] for r in rs if not math.isnan(r[m])]
            stats[key][m] = (statistics.median(v), min(v), max(v)) if v else None
    return stats


def fmt_num(x):
    if x is None or math.isnan(x):
        return "-"
    a = abs(x)
    if a >= 1e6:
        return f"{x / 1e6:.2f}M"
    if a >= 1e4:
        return f"{x / 1e3:.1f}k"
    if a >= 1e3:
        return f"{x / 1e3:.2f}k"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_plain(x):
    """Latencies and CPU: no k/M suffix."""
    if x is None or math.isnan(x):
        return "-"
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.1f}"


def cell(s, reps, fmt=fmt_num):
    if s is None:
        return "-"
    med, lo, hi = s
    if reps <= 1 or fmt(lo) == fmt(hi):
        return fmt(med)
    return f"{fmt(med)} ({fmt(lo)}–{fmt(hi)})"


def axes(stats):
    keys = stats.keys()
    return (
        order({k[0] for k in keys}, BACKENDS),
        order({k[1] for k in keys}, TRANSPORTS),
        order({k[2] for k in keys}, WORKLOADS),
    )


def ratios(stats, who="mem", peers=PEERS):
    """[(workload, transport, peer, value)]: the median IOPS of `who` over
    that of each of `peers` measured."""
    bs, ts, ws = axes(stats)
    out = []
    for w in ws:
        for t in ts:
            mem = stats.get((who, t, w))
            for p in peers:
                peer = stats.get((p, t, w))
                if mem and peer and mem["iops"] and peer["iops"] and peer["iops"][0] > 0:
                    out.append((w, t, p, mem["iops"][0] / peer["iops"][0]))
    return out


def costs(stats):
    """[(workload, transport, backend, base, instructions)]: per I/O, of
    the backend minus of its no-data counterpart (10^9 / median IOPS: all
    vCPUs' instructions per I/O under icount)."""
    bs, ts, ws = axes(stats)
    out = []
    for w in ws:
        for t in ts:
            for b, base in COSTS:
                x, y = stats.get((b, t, w)), stats.get((base, t, w))
                if x and y and x["iops"] and y["iops"] and x["iops"][0] > 0 and y["iops"][0] > 0:
                    out.append((w, t, b, base, 1e9 / x["iops"][0] - 1e9 / y["iops"][0]))
    return out


def table(stats, runs):
    bs, ts, ws = axes(stats)
    lines = [
        "| transport | workload | backend | IOPS | MiB/s | p50 lat µs | p99 lat µs | fio CPU % | reps |",
        "|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for t in ts:
        for w in ws:
            for b in bs:
                s = stats.get((b, t, w))
                if s is None:
                    continue
                n = len(runs[(b, t, w)])
                cells = [cell(s[m], n, fmt_num if m in ("iops", "mib_s") else fmt_plain) for m in METRICS]
                if b == "mem":
                    cells[0] = f"**{cells[0]}**"
                lines.append(f"| {t} | {w} | {b} | " + " | ".join(cells) + f" | {n} |")
    return lines


def cost_table(cs):
    lines = ["| transport | workload | backend | minus | instructions per I/O |", "|---|---|---|---|--:|"]
    for w, t, b, base, v in cs:
        lines.append(f"| {t} | {w} | {b} | {base} | {v:.0f} |")
    return lines


def ratio_table(rs, who="mem"):
    if not rs:
        return [f"(no {who} results to compare)"]
    peers = order({r[2] for r in rs}, PEERS)
    rows = {}
    for w, t, p, v in rs:
        rows.setdefault((t, w), {})[p] = v
    lines = [
        "| transport | workload | " + " | ".join(f"{who}/{p}" for p in peers) + " |",
        "|---|---|" + "--:|" * len(peers),
    ]
    for (t, w), d in sorted(rows.items(), key=lambda kv: (TRANSPORTS + [kv[0][0]]).index(kv[0][0])):
        lines.append(f"| {t} | {w} | " + " | ".join(f"{d[p]:.3f}" if p in d else "-" for p in peers) + " |")
    return lines


def nice_step(top, n=5):
    """A round tick step (1, 2, 2.5 or 5 x 10^k) giving about n ticks to top."""
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def svg_plot(stats, runs, path, title):
    """Grouped bars of median IOPS (linear, from zero; each panel its own
    scale), min-max whiskers; one panel per transport, one group per
    workload, one bar per backend."""
    bs, ts, ws = axes(stats)
    if not any(s["iops"] for s in stats.values()):
        return
    bar_w, gap, left, right, ph, top_pad, bot = 14, 30, 70, 20, 260, 30, 70
    group_w = max(bar_w * len(bs) + gap, 7 * max(len(w) for w in ws) + 12)
    pw = group_w * len(ws)
    width = max(left + pw + right, 7 * len(title) + 40, 760)
    # legend entries, wrapped to the width
    legend, x, y = [], left, 36
    for b in bs:
        w_entry = 28 + 7 * len(b)
        if x + w_entry > width - right and x > left:
            x, y = left, y + 18
        legend.append((b, x, y))
        x += w_entry
    legend_h = y - 36 + 30
    height = 40 + legend_h + len(ts) * (top_pad + ph + bot)
    o = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for b, x, y in legend:
        o.append(f'<rect x="{x}" y="{y}" width="12" height="12" fill="{COLORS.get(b, "#7f7f7f")}"/>')
        o.append(f'<text x="{x + 16}" y="{y + 10}">{escape(b)}</text>')

    for pi, t in enumerate(ts):
        y0 = 40 + legend_h + pi * (top_pad + ph + bot) + top_pad
        o.append(f'<text x="{left}" y="{y0 - 8}" font-size="13" font-weight="bold">transport: {escape(t)}</text>')
        top = max((s["iops"][2] for (b, tt, w), s in stats.items() if tt == t and s["iops"]), default=1)
        step = nice_step(top)
        hi = step * math.ceil(top / step)

        def ypos(v):
            return y0 + ph - ph * max(v, 0) / hi

        v = 0
        while v <= hi * 1.0001:
            y = ypos(v)
            o.append(
                f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd" stroke-width="1"/>'
            )
            o.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#444">{f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"}</text>')
            v += step
        o.append(
            f'<text x="16" y="{y0 + ph / 2}" transform="rotate(-90 16 {y0 + ph / 2})" '
            f'text-anchor="middle">IOPS (median; whisker: min-max)</text>'
        )
        o.append(f'<line x1="{left}" x2="{left}" y1="{y0}" y2="{y0 + ph}" stroke="black"/>')
        o.append(f'<line x1="{left}" x2="{left + pw}" y1="{y0 + ph}" y2="{y0 + ph}" stroke="black"/>')
        for wi, w in enumerate(ws):
            gx = left + wi * group_w + (group_w - bar_w * len(bs)) / 2
            for bi, b in enumerate(bs):
                s = stats.get((b, t, w))
                if not s or not s["iops"]:
                    continue
                med, mn, mx = s["iops"]
                x = gx + bi * bar_w
                y = ypos(med)
                o.append(
                    f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w - 2}" height="{y0 + ph - y:.1f}" '
                    f'fill="{COLORS.get(b, "#7f7f7f")}"><title>{escape(f"{b} {t} {w}: {fmt_num(med)} IOPS")}</title></rect>'
                )
                if len(runs[(b, t, w)]) > 1 and mx > mn:
                    cx = x + (bar_w - 2) / 2
                    o.append(
                        f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{ypos(mx):.1f}" y2="{ypos(mn):.1f}" '
                        f'stroke="black" stroke-width="1"/>'
                    )
            o.append(
                f'<text x="{gx + bar_w * len(bs) / 2:.1f}" y="{y0 + ph + 16}" text-anchor="middle">{escape(w)}</text>'
            )
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def overhead_table(rows):
    """The store's memory overhead, measured around each prefill of mem."""
    if not rows:
        return []
    md = [
        "",
        "## Memory overhead of the store",
        "",
        "Measured around the prefill of the mem namespace: the growth of the xarray's node slab "
        "(`radix_tree_node` in /proc/slabinfo, whole slab pages; slab merging is off in the guest) "
        "and of all slab memory (`Slab:` in /proc/meminfo, which also catches anything else "
        "allocated meanwhile), against the bytes of data pages the object gained (`allocated`). "
        "The data pages' `struct page` (64 bytes, 1.6 %) is not counted: the kernel keeps it for "
        "every page of RAM, in use or not, and brd pays the same.",
        "",
        "| rep | data | xarray nodes | per 4 KiB page | overhead | all slab | overhead |",
        "|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for rep, xa, slab, data in rows:
        pages = data // 4096
        if pages <= 0:
            continue
        md.append(
            f"| {rep} | {data / 2**20:.0f} MiB | {xa / 2**10:.0f} KiB | {xa / pages:.1f} B | "
            f"{100 * xa / data:.3f} % | {slab / 2**10:.0f} KiB | {100 * slab / data:.3f} % |"
        )
    return md


def method_note():
    return (
        "QEMU TCG with `-icount shift=0,sleep=off`: the guest clock advances 1 ns per "
        "guest instruction (and jumps over idle time), so IOPS = 10^9 / instructions "
        "per I/O across all vCPUs, latency is instructions along the I/O's path, and a "
        "rerun repeats it closely: host load does not show. It measures instruction "
        "cost only, not cache misses, memory bandwidth, lock contention or real "
        "parallelism (the vCPUs are run one at a time, in turns, so deep-queue tail "
        "latencies include waiting for the other vCPU's turn). A data copy counts as the "
        "instructions of the guest's memcpy (TCG runs a `rep movs` one iteration at a time), "
        "so in the 128k rows the copy weighs by its instruction count, not its memory traffic."
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--plain")
    ap.add_argument("--wall", type=int, help="wall seconds of the icount guest")
    a = ap.parse_args()

    meta, notes = read_meta(a.raw)
    runs = load(a.raw)
    if not runs:
        sys.exit(f"report: no fio results under {a.raw}")
    stats = summarize(runs)
    rs = ratios(stats)
    bs, ts, ws = axes(stats)
    reps = max(r["rep"] for rr in runs.values() for r in rr)
    host = meta.get("accel") == "bare metal"
    method = (
        "bare metal (BENCH_HOST=1): wall clock on the running kernel; host load, caches, "
        "memory bandwidth and lock contention all count"
        if host
        else method_note()
    )

    md = [
        "# nvmet-mem benchmark",
        "",
        f"- date: {datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
        f"- nvmet-mem: module sources of commit {meta.get('commit', '?')} ('+changes': plus uncommitted changes), "
        f"nvmet-mem.ko sha256 {meta.get('module', '?')}…",
        f"- guest kernel: {meta.get('kernel', '?')} (plain, non-debug), "
        f"{meta.get('vcpus', '?')} vCPUs, {int(meta.get('memory_kib', 0)) >> 10} MiB",
        f"- method: {method}",
        f"- fio: {meta.get('fio', '?')}, `--direct=1 --ioengine=io_uring --numjobs={meta.get('vcpus', '?')} "
        f"--group_reporting --norandommap`, each job in its own 1/{meta.get('vcpus', '?')} of the namespace, "
        f"time-based {meta.get('runtime', '?')} s after a {meta.get('ramp', '?')} s ramp (guest time); "
        + (f"I/O buffers in {meta['buffers']} (`--iomem=mmaphuge`)" if meta.get("buffers")
           else "I/O buffers from malloc (4 KiB pages)")
        + (f"; transports `<t>-passthru` (backends {meta['passthru']}): the same jobs with "
           "`--ioengine=io_uring_cmd --cmd_type=nvme` on the host's generic character device "
           "/dev/ngXnY instead of the block device (no block layer on the host)"
           if meta.get("passthru") else ""),
        "- backends, each alone behind nvmet namespace 1: **mem** nvmet-mem object; **ceiling** the "
        "same with `nodata=1` (commands complete without touching data or pages: nvmet, the "
        "transport and the host alone); **brd** /dev/ram0 (bdev backend); **null_blk** "
        "memory_backed=1 and **null_blk_nodata** memory_backed=0 (bdev backend); **file** a file "
        "on a guest tmpfs (file backend, buffered_io=0); **ublk** a ublk device whose userspace server "
        "(rublk's loop target, buffered I/O, one queue per vCPU) keeps the data in a file on a guest "
        "tmpfs (bdev backend); **mem_base** nvmet-mem as built from another commit (`BENCH_BASE`), "
        "for a before/after comparison of the module: see the notes",
        f"- namespaces: {int(meta.get('size', 0)) >> 20} MiB, 512-byte blocks, written whole once "
        "before the runs of each backend (reads never hit holes)",
        f"- repetitions: {reps}, interleaved (rep 1 runs every backend, then rep 2, ...); "
        "cells are median (min–max) over the reps",
        "- columns: IOPS and MiB/s summed over the jobs; p50/p99 of fio's latency from "
        "submission to completion (fio `lat`; its `clat`, also in results.json, misses the "
        "part of an I/O that completes inside io_uring_enter and reads ~1.4 µs at qd1 "
        "over tcp here); fio CPU = usr+sys of the fio processes in % of one CPU, summed "
        "over the jobs (target work in kworkers and softirqs is not in it)",
    ]
    if a.wall:
        md.append(f"- the icount guest took {a.wall} s of wall time, {float(meta.get('guest_seconds', 0)):.0f} s of guest time")
    caveat = [] if host else [CAVEAT, ""]
    md += ["", f"## Results ({'bare metal' if host else 'icount'})", ""] + caveat + table(stats, runs)
    md += [
        "",
        "## mem IOPS / peer IOPS (medians)",
        "",
        "Above 1: mem did more I/O per guest second than the peer, i.e. spent fewer "
        "instructions per I/O (host and target together).",
        "",
    ] + caveat + ratio_table(rs)
    wrs, cs = ratios(stats, "mem_wq", WQ_PEERS), costs(stats)
    if wrs:
        md += [
            "",
            "## mem_wq IOPS / peer IOPS (medians): the same execution context",
            "",
            "Over loop, mem executes in the submitter's context (the nowait contract) while the "
            "bdev and file backends cannot: submit_bio() may sleep and nvme-loop's queue_rq runs "
            "under RCU, so their commands always go through nvmet_wq. mem_wq is mem with "
            "nowait=0, through the same workqueue: what the store itself does better or worse. "
            "Over tcp every backend executes in nvmet-tcp's io_work, so there mem_wq is mem.",
            "",
        ] + caveat + ratio_table(wrs, "mem_wq")
    if cs:
        md += [
            "",
            "## The backend's own cost (instructions per I/O)",
            "",
            "Per I/O, 10^9 / median IOPS of the backend minus that of a backend on the same path "
            "that moves no data: mem - ceiling (both inline over loop), brd - null_blk_nodata and null_blk - null_blk_nodata "
            "(both through nvmet_wq and the block layer). The no-data side zeroes the host's buffer "
            "on reads (ceiling) or touches no data (null_blk_nodata), so these are what moving "
            "the data through each store costs, host and target together.",
            "",
        ] + caveat + cost_table(cs)
    md += overhead_table(meta.get("overhead", []))
    if a.plain:
        pmeta, pnotes = read_meta(a.plain)
        pruns = load(a.plain)
        if pruns:
            pstats = summarize(pruns)
            md += [
                "",
                "## Wall-clock sanity run (no icount): not a performance result",
                "",
                f"The same matrix in a second guest without icount ({pmeta.get('accel', 'TCG or KVM')}): "
                "real time, so host load, TCG's translation costs and lock contention between "
                "vCPUs that really run in parallel show; a sanity check of the icount numbers, "
                "not a result (a shared host under TCG measures the host as much as the backends).",
                "",
            ]
            md += table(pstats, pruns)
            md += ["", "mem IOPS / peer IOPS (medians, wall clock):", ""] + ratio_table(ratios(pstats))
            notes += [f"plain run: {n}" for n in pnotes if n not in notes]
    md += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    md += ["", "Plot: [results.svg](results.svg). Every run's numbers: results.json; raw fio JSON: `bench/raw/` (not committed).", ""]
    lines = [f"ratio {w} {t} mem/{p} {v:.3f}" for w, t, p, v in rs]
    lines += [f"ratio {w} {t} mem_wq/{p} {v:.3f}" for w, t, p, v in wrs]
    lines += [f"cost {w} {t} {b}-{base} {v:.0f}" for w, t, b, base, v in cs]
    md += ["```"] + lines + ["```", ""]

    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write("\n".join(md))
    svg_plot(
        stats,
        runs,
        os.path.join(a.out, "results.svg"),
        f"nvmet backends, median IOPS over {reps} rep(s), icount guest ({meta.get('vcpus', '?')} vCPUs, {meta.get('kernel', '?')})",
    )
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(
            {
                "meta": meta,
                "notes": notes,
                "runs": [
                    {"backend": b, "transport": t, "workload": w, **r}
                    for (b, t, w), rr in sorted(runs.items())
                    for r in sorted(rr, key=lambda r: r["rep"])
                ],
                "ratios": [{"workload": w, "transport": t, "peer": p, "value": round(v, 3)} for w, t, p, v in rs],
                "wq_ratios": [{"workload": w, "transport": t, "peer": p, "value": round(v, 3)} for w, t, p, v in wrs],
                "costs": [
                    {"workload": w, "transport": t, "backend": b, "minus": base, "instructions": round(v)}
                    for w, t, b, base, v in cs
                ],
            },
            f,
            indent=1,
        )
        f.write("\n")
    for n in notes:
        print(f"note: {n}")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
