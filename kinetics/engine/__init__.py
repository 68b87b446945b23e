"""A small inference engine: Qwen3 in torch, paged KV cache, continuous batching, dense and block top-k attention."""
