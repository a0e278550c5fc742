#!/usr/bin/env python3
"""Summarizes a run.sh results file: median [min-max] per peer and measurement, and ScaleOps' ratio to the best peer."""
import json, statistics, sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = defaultdict(list)
for r in rows:
    key = (r["scenario"], r["c"] if r["scenario"] == "process" else None)
    by[(key, r["peer"])].append(r)

def fmt(vals, digits=0):
    m = statistics.median(vals)
    f = f"{{:,.{digits}f}}"
    return f"{f.format(m)} [{f.format(min(vals))}–{f.format(max(vals))}]", m

names = {"scaleops": "ScaleOps.Jobs", "scaleops-buffer": "ScaleOps.Jobs, LocalBuffer 500 + delete on success", "graphile": "graphile-worker 0.18.0 (batched)", "pgboss": "pg-boss 12.38.0 (batched)"}
peers = [p for p in ["scaleops", "scaleops-buffer", "graphile", "pgboss"] if any(k[1] == p for k in by)]
print(f"Results: {sys.argv[1]} ({len(rows)} measurements; CPU busy% at start: median {statistics.median(r['busy'] for r in rows)}, max {max(r['busy'] for r in rows)})\n")
print("| measurement (jobs/s) | " + " | ".join(names[p] for p in peers) + " | ScaleOps / best peer |")
print("|---|" + "---:|" * (len(peers) + 1))
for key, label in [(("bulk", None), "enqueue 20,000, bulk"), (("single", None), "enqueue 2,000, one at a time"),
                   (("process", 10), "process 20,000, c=10"), (("process", 50), "process 20,000, c=50")]:
    cells, medians = [], {}
    for p in peers:
        rs = by.get((key, p))
        if not rs:
            cells.append("—"); continue
        text, m = fmt([r["value"] for r in rs]); cells.append(text); medians[p] = m
    best_peer = max((m for p, m in medians.items() if not p.startswith("scaleops")), default=None)
    ours = max((m for p, m in medians.items() if p.startswith("scaleops")), default=None)
    ratio = f"{ours / best_peer:.2f}x" if best_peer and ours else "—"
    print(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
print("\n| pickup latency, ms (200 samples per rep) | p50 | p95 | p99 | worst | enqueue call p50 |")
print("|---|---:|---:|---:|---:|---:|")
for p in peers:
    rs = by.get((("latency", None), p))
    if not rs:
        continue
    cells = [fmt([r[k] for r in rs], 2)[0] for k in ["p50", "p95", "p99"]]
    print(f"| {names[p]} | " + " | ".join(cells) + f" | {max(r['max'] for r in rs):.1f} | {statistics.median(r['enqueueP50'] for r in rs):.2f} |")
