"""Accelerators as the cost model sees them: peak FLOP/s per dtype, HBM bandwidth, memory capacity.

The ratio of the two rates is the machine's *intensity* I = peak FLOP/s / (bytes/s): how many FLOPs cost as much
time as moving one byte. Kinetics prices a generation in eFLOPs = FLOPs + I x bytes; the paper fixes
I = E = 562.5, which is B200's 4.5 PFLOP/s (dense FP8) over its 8 TB/s of HBM3e.

Preset numbers are dense (no 2:4 sparsity) peaks from the vendors' public datasheets:
- A100-80G SXM: NVIDIA A100 Tensor Core GPU datasheet (2021): BF16/FP16 312 TFLOP/s, HBM2e 2,039 GB/s, 80 GB.
- H100 SXM: NVIDIA H100 Tensor Core GPU datasheet (2023): BF16 989 TFLOP/s (1,979 with sparsity),
  FP8 1,979 TFLOP/s (3,958 with sparsity), HBM3 3.35 TB/s, 80 GB.
- H200 SXM: NVIDIA H200 Tensor Core GPU datasheet (2024): same tensor-core peaks as H100 SXM, HBM3e 4.8 TB/s, 141 GB.
- B200: NVIDIA DGX B200 datasheet (2024), per GPU (system totals / 8): FP8 72 PFLOP/s / 8 = 9 with sparsity,
  so 4.5 dense; BF16 2.25 PFLOP/s dense; HBM3e 64 TB/s / 8 = 8 TB/s; 1,440 GB / 8 = 180 GB.
- MI300X: AMD Instinct MI300X data sheet (2023): BF16/FP16 1,307.4 TFLOP/s, FP8 2,614.9 TFLOP/s dense,
  HBM3 5.3 TB/s, 192 GB.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from kinetics.errors import InputError, check_positive

TERA = 1e12


@dataclass(frozen=True)
class Hardware:
    """One accelerator. Rates in SI units: FLOP/s per dtype, bytes/s, bytes."""

    name: str
    peak_flops: dict[str, float]
    hbm_bandwidth: float
    memory_bytes: float | None = None
    source: str = ""
    aliases: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if not self.peak_flops:
            raise InputError(f"hardware {self.name!r}: peak_flops is empty")
        for dtype, rate in self.peak_flops.items():
            check_positive(f"hardware {self.name!r}: peak FLOP/s for {dtype}", rate)
        check_positive(f"hardware {self.name!r}: HBM bandwidth", self.hbm_bandwidth)
        if self.memory_bytes is not None:
            check_positive(f"hardware {self.name!r}: memory", self.memory_bytes)

    def peak(self, dtype: str = "bf16") -> float:
        """Peak dense FLOP/s for `dtype`."""
        if dtype not in self.peak_flops:
            raise InputError(f"hardware {self.name!r} has no peak for dtype {dtype!r}; "
                             f"known: {', '.join(sorted(self.peak_flops))}")
        return self.peak_flops[dtype]

    def intensity(self, dtype: str = "bf16") -> float:
        """FLOPs that take as long as moving one byte: peak(dtype) / bandwidth (FLOP/byte)."""
        return self.peak(dtype) / self.hbm_bandwidth

    @property
    def paper_dtype(self) -> str:
        """The dtype the paper's convention prices at: FP8 where the hardware has an FP8 peak, else BF16."""
        return "fp8" if "fp8" in self.peak_flops else "bf16"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("aliases")
        d["intensity"] = {dtype: self.intensity(dtype) for dtype in self.peak_flops}
        return d


PRESETS: dict[str, Hardware] = {
    hw.name: hw
    for hw in [
        Hardware("a100-80g", {"bf16": 312 * TERA, "fp16": 312 * TERA}, 2.039e12, 80e9,
                 "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB)", ("a100",)),
        Hardware("h100-sxm", {"bf16": 989 * TERA, "fp16": 989 * TERA, "fp8": 1979 * TERA}, 3.35e12, 80e9,
                 "NVIDIA H100 Tensor Core GPU datasheet (SXM5)", ("h100",)),
        Hardware("h200", {"bf16": 989 * TERA, "fp16": 989 * TERA, "fp8": 1979 * TERA}, 4.8e12, 141e9,
                 "NVIDIA H200 Tensor Core GPU datasheet (SXM)", ("h200-sxm",)),
        Hardware("b200", {"bf16": 2250 * TERA, "fp16": 2250 * TERA, "fp8": 4500 * TERA}, 8e12, 180e9,
                 "NVIDIA DGX B200 datasheet, per GPU (system totals / 8)", ()),
        Hardware("mi300x", {"bf16": 1307.4 * TERA, "fp16": 1307.4 * TERA, "fp8": 2614.9 * TERA}, 5.3e12, 192e9,
                 "AMD Instinct MI300X accelerator data sheet", ()),
    ]
}
_ALIASES = {alias: hw.name for hw in PRESETS.values() for alias in hw.aliases}

#: The paper's E: B200 dense FP8 peak over its HBM bandwidth.
PAPER_INTENSITY = PRESETS["b200"].intensity("fp8")


def get_hardware(name: str | Hardware) -> Hardware:
    """A preset by name (case-insensitive; 'h100' means the SXM part)."""
    if isinstance(name, Hardware):
        return name
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        raise InputError(f"unknown hardware {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[key]


def hardware_from_numbers(peak_tflops: float, hbm_tbps: float, memory_gb: float | None = None,
                          name: str = "custom", dtype: str = "bf16", fp8_tflops: float | None = None) -> Hardware:
    """A Hardware from raw numbers: peak TFLOP/s (for `dtype`), HBM TB/s, optional memory in GB and an optional
    dense FP8 peak (the paper's convention prices at FP8 where the hardware has it, as the presets do)."""
    check_positive("peak TFLOP/s", peak_tflops)
    check_positive("HBM TB/s", hbm_tbps)
    peaks = {dtype: float(peak_tflops) * TERA}
    if fp8_tflops is not None:
        check_positive("FP8 peak TFLOP/s", fp8_tflops)
        peaks["fp8"] = float(fp8_tflops) * TERA
    memory = None if memory_gb is None else float(memory_gb) * 1e9
    return Hardware(name, peaks, float(hbm_tbps) * 1e12, memory, source="given as raw numbers")


def resolve_hardware(hardware: str | Hardware | None = "b200", peak_tflops: float | None = None,
                     hbm_tbps: float | None = None, memory_gb: float | None = None,
                     fp8_tflops: float | None = None) -> Hardware:
    """The rule of every chapter's `parameters` cell and every command's hardware options: raw numbers (both of
    them, plus an optional FP8 peak) win over the named preset; the raw machine is named after its numbers, e.g.
    '989 TFLOP/s, 3.35 TB/s'. `memory_gb` sets the memory of either (a preset keeps its rates and gets that memory)."""
    if memory_gb is not None:
        check_positive("--memory-gb (memory in GB)", memory_gb)
    if peak_tflops is not None or hbm_tbps is not None:
        if peak_tflops is None or hbm_tbps is None:
            raise InputError("give both --peak-tflops and --hbm-tbps (peak TFLOP/s and HBM TB/s), or neither")
        fp8 = "" if fp8_tflops is None else f", FP8 {fp8_tflops:g} TFLOP/s"
        return hardware_from_numbers(peak_tflops, hbm_tbps, memory_gb, fp8_tflops=fp8_tflops,
                                     name=f"{peak_tflops:g} TFLOP/s, {hbm_tbps:g} TB/s{fp8}")
    if fp8_tflops is not None:
        raise InputError("an FP8 peak (--fp8-tflops) goes with raw numbers (--peak-tflops and --hbm-tbps); "
                         "a preset carries its own")
    preset = get_hardware(hardware if hardware is not None else "b200")
    if memory_gb is None:
        return preset
    # a preset with other memory (e.g. a partitioned GPU): the batch that shares weight reads follows it
    return replace(preset, name=f"{preset.name} with {float(memory_gb):g} GB", memory_bytes=float(memory_gb) * 1e9)
