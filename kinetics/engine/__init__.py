"""A small inference engine: Qwen3 in torch, paged KV cache, continuous batching, dense and block top-k attention.

The contract (stable; `kinetics eval` and the chapters build on it)::

    from kinetics.engine import LLM, SamplingParams, AttentionConfig

    llm = LLM(model,                      # ModelSpec | HF config dict | config.json | model dir | preset name
              weights=None,               # None: random weights from `seed`; or a dir of *.safetensors (+ index)
              device="cpu",               # "cpu" | "cuda"
              dtype=None,                 # None: float32 on CPU, bfloat16 on CUDA; or "bf16", "fp16", "fp32"
              attention=AttentionConfig(kind="dense",      # or "blocktopk"
                                        budget=1024,       # tokens attended per (request, KV head) at decode
                                        page_size=16,      # tokens per KV page (= the block of block top-k)
                                        sinks=0,           # first tokens always kept
                                        dense_layers=0),   # first layers kept dense
              seed=0,
              max_num_seqs=256, max_num_batched_tokens=8192, max_model_len=None, num_pages=None)
    outputs = llm.generate([[11, 22, 33], [44, 55]],
                           SamplingParams(temperature=0.6, top_p=0.95, top_k=20, max_tokens=1024, seed=None,
                                          forced_length=None, stop_token_ids=None),   # or one per prompt
                           progress=False)
    outputs[i].token_ids       # generated ids (list[int]), in prompt order; the stop token is included
    outputs[i].finish_reason   # "stop" | "length" | "error"
    outputs[i].error           # why a request was rejected (too long, empty, bad token id), else None
    llm.last_stats             # GenerationStats: wall_s, tokens_per_s, peak_pages, preemptions, ...

Bad configuration, weights or sampling parameters raise kinetics.errors.InputError with one clear line; a request
that cannot run is rejected on its own (.error) while the others complete.
"""
from kinetics.engine.config import AttentionConfig, EngineConfig, load_model_spec
from kinetics.engine.llm_engine import LLM, GenerationStats
from kinetics.engine.sequence import RequestOutput, SamplingParams

__all__ = ["LLM", "SamplingParams", "AttentionConfig", "EngineConfig", "GenerationStats", "RequestOutput",
           "load_model_spec"]
