"""Print block top-k timings of an attention.json: python -m kinetics.bench.summarize PATH"""
import json
import sys

result = json.load(open(sys.argv[1]))
print(f"timer: {result['provenance'].get('timer')}; commit {result['provenance']['commit']}")
for r in result["shapes"]:
    contenders = " ".join(f"{n} {c['total']['median_ms']:.3f}" if "total" in c else f"{n} failed"
                          for n, c in r.get("contenders", {}).items())
    print(f"{r['rows']:5d} x {r['context']:6d} page {r['page_size']:2d} {r.get('page_order', '')[:4]} | "
          f"select {r['ours_select']['median_ms']:.3f} attn {r['ours_sparse_attn']['median_ms']:.3f} "
          f"(FI {r.get('flashinfer_sparse_attn', {}).get('median_ms', float('nan')):.3f}) | fused "
          f"{r['ours_topk_fused']['median_ms']:.3f} auto {r['ours_topk']['median_ms']:.3f} | {contenders} | "
          f"floor {r['floor_topk_ms']:.3f} -> {r['topk_over_floor']:.2f}x | vs strongest "
          f"{r.get('topk_vs_strongest', float('nan')):.2f}")
    if "fp8" in r:
        f = r["fp8"]
        contenders = " ".join(f"{n} {c['total']['median_ms']:.3f}" if "total" in c else f"{n} failed"
                              for n, c in f.get("contenders", {}).items())
        print(f"      fp8 summaries | select {f['ours_select']['median_ms']:.3f} top-k {f['ours_topk']['median_ms']:.3f} "
              f"| {contenders} | same pages {f['same_pages_as_bf16']:.3f} | floor(bf16) "
              f"{r['topk_fp8_over_floor']:.2f}x floor(fp8) {r['topk_fp8_over_floor_fp8']:.2f}x | strongest "
              f"{r.get('strongest')} {r.get('strongest_ms', float('nan')):.3f} -> ours best "
              f"({r.get('ours_best_summaries')}) {r.get('topk_vs_strongest', float('nan')):.2f}x")
