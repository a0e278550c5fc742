#!/usr/bin/env python3
"""Summarizes a run.sh results file: median [min-max] per peer and measurement, and ScaleOps' ratio to the fastest
other peer computed per rep (same rep = measured minutes apart), as median [min-max] of the reps."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
for r in rows:
    key = (r["scenario"], r["c"] if r["scenario"] == "process" else None) + ((True,) if r["scenario"] == "process" and r["n"] >= 100000 else ())
    by[(key, r["peer"])].append(r)

def fmt(vals, digits=0):
    m = statistics.median(vals)
    f = f"{{:,.{digits}f}}"
    return f"{f.format(m)} [{f.format(min(vals))}–{f.format(max(vals))}]", m

names = {"scaleops": "ScaleOps.Jobs", "scaleops-buffer": "ScaleOps.Jobs, LocalBuffer 500 + delete on success",
         "scaleops-local": "ScaleOps.Jobs, enqueued on the worker's host (local dispatch)",
         "graphile": "graphile-worker 0.18.0 (batched)", "pgboss": "pg-boss 12.38.0 (batched)",
         "hangfire": "Hangfire.PostgreSql 1.21.1"}
ours = ["scaleops", "scaleops-buffer", "scaleops-local"]
peers = [p for p in ["scaleops", "scaleops-buffer", "scaleops-local", "graphile", "pgboss", "hangfire"] if any(k[1] == p for k in by)]
loads = [float(r["load"].split()[0]) for r in rows if "load" in r]
print(f"Results: {sys.argv[1]} ({len(rows)} measurements; CPU busy% at start: median {statistics.median(r['busy'] for r in rows)}, "
      f"max {max(r['busy'] for r in rows)}" + (f"; 1-min load average at the end of a measurement: median {statistics.median(loads):.1f} [{min(loads):.1f}–{max(loads):.1f}]" if loads else "") + ")\n")

def ratio_per_rep(key, ours_peer, higher_is_better=True, field="value"):
    reps = defaultdict(dict)
    for p in peers:
        for r in by.get((key, p), []):
            reps[r["rep"]][p] = r[field]
    ratios = []
    for rep, vals in reps.items():
        others = [v for p, v in vals.items() if p not in ours]
        if ours_peer not in vals or not others:
            continue
        best = max(others) if higher_is_better else min(others)
        ratios.append(vals[ours_peer] / best if higher_is_better else best / vals[ours_peer])
    return ratios

print("| measurement (jobs/s) | " + " | ".join(names[p] for p in peers) + " | ScaleOps / fastest peer, per rep |")
print("|---|" + "---:|" * (len(peers) + 1))
for key, label in [(("bulk", None), "enqueue, bulk"), (("single", None), "enqueue, one at a time"),
                   (("process", 10), "process, c=10"), (("process", 50), "process, c=50"),
                   (("process", 10, True), "process, c=10, 100,000-job backlog")]:
    cells = []
    for p in peers:
        rs = by.get((key, p))
        if not rs:
            cells.append("—"); continue
        text = fmt([r["value"] for r in rs])[0]
        ns = sorted({r["n"] for r in rs})
        if any(r.get("capped") for r in rs):
            text += " (capped)"
        cells.append(text + f" (N={','.join(f'{n:,}' for n in ns)})")
    ratios = []
    for o in ours:
        rr = ratio_per_rep(key, o)
        if rr:
            ratios.append(f"{names[o].split(',')[1].strip() if ',' in names[o] else 'defaults'}: {statistics.median(rr):.2f}x [{min(rr):.2f}–{max(rr):.2f}]")
    print(f"| {label} | " + " | ".join(cells) + f" | {'; '.join(ratios) or '—'} |")
print("\n| pickup latency, ms | p50 | p95 | p99 | worst | enqueue call p50 | samples per rep |")
print("|---|---:|---:|---:|---:|---:|---:|")
for p in peers:
    rs = by.get((("latency", None), p))
    if not rs:
        continue
    cells = [fmt([r[k] for r in rs], 2)[0] for k in ["p50", "p95", "p99"]]
    print(f"| {names[p]} | " + " | ".join(cells) + f" | {max(r['max'] for r in rs):.1f} | {statistics.median(r['enqueueP50'] for r in rs):.2f} | {rs[0]['n']} |")
for o, how in [("scaleops", "enqueued from a host without a worker"), ("scaleops-local", "enqueued on the worker's host")]:
    rr = ratio_per_rep(("latency", None), o, higher_is_better=False, field="p50")
    if rr:
        print(f"\nScaleOps ({how}) p50 pickup / fastest peer's p50, per rep (lower is better; goal ≤ 0.50): "
              f"{statistics.median(1 / x for x in rr):.2f} [{min(1 / x for x in rr):.2f}–{max(1 / x for x in rr):.2f}]")
