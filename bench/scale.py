#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Scaling report of a `make bench` run (see scripts/bench.sh).

    scale.py --raw DIR --out DIR [--append results.md]

--raw holds one directory per guest, scale-<vCPUs>/ (what
bench/guest-bench.sh wrote: rep<R>/<backend>/<transport>.json, meta.tsv),
each run with numjobs = vCPUs. Writes to --out scale.svg (IOPS against
vCPUs, one panel per transport and workload) and scale.json, appends a
section (table and plot) to --append, and prints one line per point:
  scale <workload> <transport> <backend> <vcpus> <iops> <ratio to 1 vCPU>
"""

import argparse
import json
import math
import os
import statistics
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402


def load(raw):
    """points[(workload, transport, backend)][vcpus] = (iops, p50, p99)."""
    points = {}
    for d in sorted(os.listdir(raw)):
        if not d.startswith("scale-"):
            continue
        n = int(d[len("scale-"):])
        runs = report.load(os.path.join(raw, d))
        for (b, t, w), rr in runs.items():
            med = lambda m: statistics.median(r[m] for r in rr)  # noqa: E731
            points.setdefault((w, t, b), {})[n] = (med("iops"), med("p50_us"), med("p99_us"))
    return points


def svg(points, path, title):
    panels = sorted({(w, t) for w, t, _ in points})
    backends = report.order({b for _, _, b in points}, report.BACKENDS)
    vcpus = sorted({n for p in points.values() for n in p})
    pw, ph, m = 300, 220, 50
    width = m + len(panels) * (pw + m)
    height = ph + 2 * m + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">',
           f'<text x="{m}" y="18" font-size="13">{escape(title)}</text>']
    for i, (w, t) in enumerate(panels):
        x0, y0 = m + i * (pw + m), m
        top = max((v[0] for b in backends for v in points.get((w, t, b), {}).values()), default=1)
        step = report.nice_step(top)
        ymax = step * math.ceil(top / step)
        out.append(f'<text x="{x0}" y="{y0 - 8}">{escape(t)} {escape(w)}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#888"/>')
        for k in range(int(ymax / step) + 1):
            y = y0 + ph - k * step / ymax * ph
            out.append(f'<text x="{x0 - 4}" y="{y + 4}" text-anchor="end">{report.fmt_num(k * step)}</text>')
        xs = {n: x0 + (j + 0.5) * pw / len(vcpus) for j, n in enumerate(vcpus)}
        for n, x in xs.items():
            out.append(f'<text x="{x}" y="{y0 + ph + 14}" text-anchor="middle">{n}</text>')
        for b in backends:
            p = points.get((w, t, b), {})
            pts = " ".join(f"{xs[n]:.1f},{y0 + ph - p[n][0] / ymax * ph:.1f}" for n in vcpus if n in p)
            out.append(f'<polyline points="{pts}" fill="none" stroke="{report.COLORS.get(b, "#000")}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + pw / 2}" y="{y0 + ph + 28}" text-anchor="middle">vCPUs (= fio jobs)</text>')
    for j, b in enumerate(backends):
        x = m + j * 110
        out.append(f'<rect x="{x}" y="{height - 18}" width="10" height="10" fill="{report.COLORS.get(b, "#000")}"/>')
        out.append(f'<text x="{x + 14}" y="{height - 9}">{escape(b)}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--append")
    a = ap.parse_args()
    points = load(a.raw)
    if not points:
        sys.exit(f"scale: no results under {a.raw}/scale-*")
    lines, rows = [], []
    rank = {b: i for i, b in enumerate(report.BACKENDS)}
    for (w, t, b) in sorted(points, key=lambda k: (k[0], k[1], rank.get(k[2], len(rank)), k[2])):
        p = points[(w, t, b)]
        base = p.get(1, (float("nan"),))[0]
        for n in sorted(p):
            iops, p50, p99 = p[n]
            ratio = iops / base if base and not math.isnan(base) else float("nan")
            lines.append(f"scale {w} {t} {b} {n} {iops:.0f} {ratio:.3f}")
            rows.append((w, t, b, n, iops, ratio, p50, p99))
    vcpus = sorted({r[3] for r in rows})
    meta, _ = report.read_meta(os.path.join(a.raw, f"scale-{vcpus[0]}"))
    md = ["", "## Scaling with vCPUs (icount)", "",
          f"Module of commit {meta.get('commit', '?')}, guest kernel {meta.get('kernel', '?')}, "
          f"{int(meta.get('size', 0)) >> 20} MiB namespaces, {meta.get('runtime', '?')} s runs after a "
          f"{meta.get('ramp', '?')} s ramp (guest time), one repetition. "
          f"One icount guest per vCPU count ({', '.join(map(str, vcpus))}), fio numjobs = vCPUs, "
          "each job in its own slice of the namespace. Under icount the vCPUs run in turns on one "
          "host thread, so guest time advances with the instructions of all vCPUs together: IOPS "
          "stay flat when the instructions per I/O stay flat. This shows added instruction cost "
          "(spinning, retries, cache-line bouncing that costs instructions); it cannot show lock "
          "contention or cache misses, and latency percentiles at several vCPUs are mostly waits "
          "for the other vCPUs' turns.", "",
          "| workload | transport | backend | vCPUs | IOPS | / 1 vCPU | p50 µs | p99 µs |",
          "|---|---|---|---:|---:|---:|---:|---:|"]
    md += [f"| {w} | {t} | {b} | {n} | {report.fmt_num(i)} | {r:.3f} | {p50:.0f} | {p99:.0f} |"
           for w, t, b, n, i, r, p50, p99 in rows]
    md += ["", "Plot: [scale.svg](scale.svg)", "", "```"] + lines + ["```", ""]
    os.makedirs(a.out, exist_ok=True)
    svg(points, os.path.join(a.out, "scale.svg"), "IOPS against vCPUs (icount guests; numjobs = vCPUs)")
    with open(os.path.join(a.out, "scale.json"), "w") as f:
        json.dump([dict(zip(["workload", "transport", "backend", "vcpus", "iops", "ratio", "p50_us", "p99_us"], r))
                   for r in rows], f, indent=1)
        f.write("\n")
    if a.append:
        with open(a.append, "a") as f:
            f.write("\n".join(md))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
