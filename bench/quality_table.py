"""Renders an eval report (bookrec eval --report-json) as the markdown tables of
bench/quality.md: recall@30 and NDCG@10 with 95% bootstrap intervals per model and
protocol, and the paired comparisons."""
import json
import sys

r = json.load(open(sys.argv[1]))
by = {(e["model"], e["protocol"], e["k"]): e for e in r["results"]}
line = (f"split `{r['split_id']}`, {r['bootstrap']['resamples']} bootstrap resamples, "
        f"{int(r['bootstrap']['level'] * 100)}% intervals")
if "cold_blend_a" in r:
    line += (f"; cold blend chosen on the tuning half: prior `{r['cold_prior']}`, "
             f"a = {r['cold_blend_a']:.1f}")
print(line + "\n")
for proto in ["warm", "cold", "similarity"]:
    models = [m for (m, p, k) in by if p == proto and k == 30]
    if not models:
        continue
    print(f"### {proto}\n")
    print("| model | users | recall@30 [95% CI] | NDCG@10 [95% CI] | hit@30 | coverage@30 | "
          "mean pop@30 |")
    print("|---|---|---|---|---|---|---|")
    for m in models:
        a, b = by[(m, proto, 30)], by.get((m, proto, 10))
        rc = a["recall_ci"]
        nd = f"{b['ndcg']:.4f} [{b['ndcg_ci'][0]:.4f}, {b['ndcg_ci'][1]:.4f}]" if b else ""
        print(f"| {m} | {a['users']} | {a['recall']:.4f} [{rc[0]:.4f}, {rc[1]:.4f}] | {nd} | "
              f"{a['hit_rate']:.4f} | {a['coverage']:.4f} | {a['mean_popularity']:.1f} |")
    print()
if r.get("comparisons"):
    print("### paired comparisons\n")
    print("| protocol | model A | model B | metric@k | A - B [95% CI] |")
    print("|---|---|---|---|---|")
    for c in r["comparisons"]:
        lo, hi = c["diff_ci"]
        print(f"| {c['protocol']} | {c['model_a']} | {c['model_b']} | {c['metric']}@{c['k']} | "
              f"{c['diff']:+.4f} [{lo:+.4f}, {hi:+.4f}] |")
