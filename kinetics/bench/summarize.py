"""Print block top-k timings of an attention.json: python -m kinetics.bench.summarize PATH"""
import json
import sys

result = json.load(open(sys.argv[1]))
for r in result["shapes"]:
    print(f"{r['rows']:5d} x {r['context']:6d} page {r['page_size']:2d} {r.get('page_order', '')[:4]} | "
          f"select {r['ours_select']['median_ms']:.3f} attn {r['ours_sparse_attn']['median_ms']:.3f} | unfused "
          f"{r['ours_topk_unfused']['median_ms']:.3f} fused {r['ours_topk_fused']['median_ms']:.3f} auto "
          f"{r['ours_topk']['median_ms']:.3f} | anchor {r.get('anchor_total', {}).get('median_ms', float('nan')):.3f}"
          f" | floor {r['floor_topk_ms']:.3f} -> {r['topk_over_floor']:.2f}x")
