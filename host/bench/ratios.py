#!/usr/bin/env python3
"""Ratio table (stepbox throughput / peer throughput) from run_bench.py --out JSON lines."""
import json, sys

TARGETS = {"w1": 50, "w2": 20, "w3": 3, "w4": 20, "w5": 2}
rows = [json.loads(l)["median"] for l in open(sys.argv[1]) if '"median"' in l]
peer = sys.argv[2] if len(sys.argv) > 2 else "als"
by = {(r["peer"], r["key"]): r for r in rows}
print(f"| workload | {peer} | stepbox | ratio | target | process wall s ({peer} / stepbox) | peak RSS MiB ({peer} / stepbox) |")
print("|---|---|---|---|---|---|---|")
for k, t in TARGETS.items():
    a, s = by.get((peer, k)), by.get(("stepbox", k))
    if not a or not s or "throughput" not in a or "throughput" not in s:
        continue
    r = s["throughput"] / a["throughput"]
    print(f"| {k.upper()} {s['workload']} | {a['throughput']:,.0f} {a['unit']}/s | {s['throughput']:,.0f} {s['unit']}/s "
          f"| **{r:.1f}×** | ≥ {t}× {'met' if r >= t else 'MISSED'} | {a['process_wall_s']:.2f} / {s['process_wall_s']:.2f} "
          f"| {a['peak_rss_mib']:.0f} / {s['peak_rss_mib']:.0f} |")
