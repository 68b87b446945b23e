"""Compile every selection and decode kernel variant for sm_90 without a GPU and print the innermost error, if any.

    python -m kinetics.bench.compile_check     (the front end and ptxas run on the CPU; no launch)
"""
import importlib

import triton
from triton.backends.compiler import GPUTarget

bt = importlib.import_module("kinetics.kernels.block_topk")


def deepest(error):
    while error.__cause__ is not None:
        error = error.__cause__
    return error


def compile_one(fn, ints, pointers, constexprs):
    signature = {**{n: "i32" for n in ints}, **pointers, **{k: "constexpr" for k in constexprs}}
    names = list(fn.arg_names)
    signature = {n: signature[n] for n in names}
    try:
        triton.compile(triton.compiler.ASTSource(fn=fn, signature=signature, constexprs=constexprs),
                       target=GPUTarget("cuda", 90, 32))
        return "ok"
    except Exception as error:  # report, don't stop: this is a diagnostic
        return f"FAIL {str(deepest(error))[-800:]}"


for radix in (1, 4):
    print("select_from_keys radix", radix, compile_one(
        bt._select_from_keys_kernel, ["stride_kb", "stride_kh", "stride_ptb", "stride_ob", "stride_oh", "budget",
                                      "num_sink", "out_width"],
        {"keys_ptr": "*i32", "seq_lens_ptr": "*i32", "page_table_ptr": "*i32", "sel_ptr": "*i32",
         "selp_ptr": "*i32"},
        dict(PAGE=16, PAGES_PAD=2048, OUT_PAD=128, RADIX_BITS=radix)))
    print("fused radix", radix, compile_one(
        bt._select_kernel, ["stride_qb", "stride_qh", "stride_sp", "stride_sh", "stride_ptb", "stride_ob", "stride_oh",
                            "budget", "num_sink", "out_width"],
        {"q_ptr": "*bf16", "summ_ptr": "*bf16", "page_table_ptr": "*i32", "seq_lens_ptr": "*i32", "sel_ptr": "*i32",
         "selp_ptr": "*i32"},
        dict(GROUP=4, GROUP_PAD=4, HEAD_DIM=128, PAGE=16, MINMAX=False, PAGES_PAD=2048, CHUNK=32, OUT_PAD=128,
             RADIX_BITS=radix)))

for radix in (1,):
    print("select_attend", compile_one(
        bt._select_attend_kernel,
        ["stride_qb", "stride_qh", "stride_kp", "stride_kt", "stride_kh", "stride_ptb", "stride_keyb", "stride_keyh",
         "stride_sb", "stride_sh", "stride_ob", "stride_oh", "budget", "num_sink", "out_width"],
        {"q_ptr": "*bf16", "k_ptr": "*bf16", "v_ptr": "*bf16", "keys_ptr": "*i32", "page_table_ptr": "*i32",
         "seq_lens_ptr": "*i32", "sel_ptr": "*i32", "selp_ptr": "*i32", "out_ptr": "*bf16", "qk_scale": "fp32"},
        dict(GROUP=4, GROUP_PAD=16, HEAD_DIM=128, PAGE=16, PAGES_PAD=2048, OUT_PAD=128, RADIX_BITS=radix, BLOCK_N=32,
             UPCAST=False)))

ps = importlib.import_module("kinetics.kernels.page_summary")
for summ in ("bf16", "fp8e4nv"):
    clamp = 448.0 if summ == "fp8e4nv" else 0.0
    for minmax in (False, True):
        print("summary", summ, "minmax" if minmax else "mean", compile_one(
            ps._summary_kernel, ["stride_kp", "stride_kt", "stride_kh", "stride_ptb", "stride_sp", "stride_sh"],
            {"k_ptr": "*bf16", "page_table_ptr": "*i32", "seq_lens_ptr": "*i32", "start_ptr": "*i32",
             "summ_ptr": f"*{summ}"},
            dict(PAGE=16, HEAD_DIM=128, MINMAX=minmax, HAS_START=True, CLAMP=clamp, ROUND_E4M3=False)))
    print("score", summ, compile_one(
        bt._score_kernel, ["stride_qb", "stride_qh", "stride_sp", "stride_sh", "stride_ptb", "stride_kb", "stride_kh",
                           "num_sink"],
        {"q_ptr": "*bf16", "summ_ptr": f"*{summ}", "page_table_ptr": "*i32", "seq_lens_ptr": "*i32",
         "keys_ptr": "*i32"},
        dict(GROUP=4, GROUP_PAD=4, HEAD_DIM=128, PAGE=16, MINMAX=False, CHUNK=64)))
    print("fused select", summ, compile_one(
        bt._select_kernel, ["stride_qb", "stride_qh", "stride_sp", "stride_sh", "stride_ptb", "stride_ob", "stride_oh",
                            "budget", "num_sink", "out_width"],
        {"q_ptr": "*bf16", "summ_ptr": f"*{summ}", "page_table_ptr": "*i32", "seq_lens_ptr": "*i32",
         "sel_ptr": "*i32", "selp_ptr": "*i32"},
        dict(GROUP=4, GROUP_PAD=4, HEAD_DIM=128, PAGE=16, MINMAX=False, PAGES_PAD=512, CHUNK=128, OUT_PAD=128,
             RADIX_BITS=1)))

pd = importlib.import_module("kinetics.kernels.paged_decode")
for sparse in (False, True):
    for splits in (1, 4):
        print("split decode", "sparse" if sparse else "dense", f"{splits} split(s)", compile_one(
            pd._decode_split_kernel,
            ["stride_qb", "stride_qh", "stride_kp", "stride_kt", "stride_kh", "stride_ptb", "stride_sb", "stride_sh",
             "stride_ob", "stride_oh", "stride_pb", "stride_ph", "stride_ps", "sel_width"],
            {"q_ptr": "*bf16", "k_ptr": "*bf16", "v_ptr": "*bf16", "page_table_ptr": "*i32", "seq_lens_ptr": "*i32",
             "sel_ptr": "*i32", "selp_ptr": "*i32", "out_ptr": "*bf16", "part_o_ptr": "*fp32",
             "part_lse_ptr": "*fp32", "qk_scale": "fp32"},
            dict(GROUP=4, GROUP_PAD=16, HEAD_DIM=128, PAGE=16, BLOCK_N=64, NUM_SPLITS=splits, SPARSE=sparse,
                 UPCAST=False)))
