"""Options the engine's commands share: the attention backend, the device, the output format."""
from __future__ import annotations

import argparse


def add_attention_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("attention")
    group.add_argument("--attention", choices=("dense", "blocktopk"), default="dense",
                       help="decode attention (default: dense)")
    group.add_argument("--budget", type=int, default=1024, help="block top-k: KV tokens per step (default 1024)")
    group.add_argument("--page-size", type=int, default=16, help="tokens per KV page = block size (default 16)")
    group.add_argument("--sinks", type=int, default=0, help="block top-k: first tokens always kept (default 0)")
    group.add_argument("--dense-layers", type=int, default=0, help="block top-k: first layers kept dense")


def add_device_args(parser: argparse.ArgumentParser, data_parallel: bool = False) -> None:
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--dtype", default=None, help="fp32, bf16 or fp16 (default: fp32 on CPU, bf16 on CUDA)")
    parser.add_argument("--seed", type=int, default=0, help="seed of random weights and of sampling (default 0)")
    parser.add_argument("--num-pages", type=int, default=None, help="KV cache pages (default: from memory)")
    parser.add_argument("--max-num-seqs", type=int, default=256, help="requests decoded together at most")
    parser.add_argument("--max-model-len", type=int, default=None,
                        help="longest request in tokens (default: what the command needs)")
    parser.add_argument("--no-cuda-graphs", action="store_true", help="decode without CUDA graphs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_parallel_args(parser, data_parallel)


def add_parallel_args(parser: argparse.ArgumentParser, data_parallel: bool = False) -> None:
    parser.add_argument("--tp", type=int, default=1, metavar="N",
                        help="tensor parallel: one model split over N processes, one per GPU (default 1)")
    if data_parallel:
        parser.add_argument("--dp", type=int, default=1, metavar="N",
                            help="data parallel: N engines, one per GPU, the problems split between them")


def attention_config(args):
    from kinetics.engine import AttentionConfig

    return AttentionConfig(kind=args.attention, budget=args.budget, page_size=args.page_size, sinks=args.sinks,
                           dense_layers=args.dense_layers)


def engine_limits(args, needed_len: int, requests: int) -> dict:
    """EngineConfig fields: the cache and the CUDA graphs sized for this command's requests, not the model's max."""
    page = args.page_size
    max_len = args.max_model_len or -(-(needed_len + 1) // page) * page
    return {"num_pages": args.num_pages, "max_num_seqs": max(1, min(args.max_num_seqs, requests)),
            "max_model_len": max_len, "cuda_graphs": not args.no_cuda_graphs, "tensor_parallel": args.tp}
