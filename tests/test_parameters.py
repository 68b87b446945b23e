"""The papermill scenarios under parameters/: each names only parameters the chapters have, and resolves to the
machine it says (the raw-numbers one to the same intensities as the H100 preset, FP8 included)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kinetics.hardware import resolve_hardware

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((ROOT / "parameters").glob("*.yaml"))
HARDWARE_KEYS = ("hardware", "peak_tflops", "hbm_tbps", "memory_gb", "fp8_tflops")


def _chapter_parameters(chapter: str) -> set[str]:
    text = (ROOT / "book" / chapter).read_text()
    cell = text.split('# %% tags=["parameters"]', 1)[1].split("# %%", 1)[0]
    return set(re.findall(r"^(\w+) = ", cell, flags=re.M))


def test_the_scenarios_are_there():
    assert {p.stem for p in SCENARIOS} == {"h100", "h200", "b200", "mi300x", "raw-numbers"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_a_scenario_sets_hardware_parameters_every_hardware_chapter_has(path):
    values = yaml.safe_load(path.read_text())
    assert values and set(values) <= set(HARDWARE_KEYS)
    for chapter in ("01_cost_model.py", "02_scaling_laws.py", "03_sparse_scaling.py"):
        assert set(HARDWARE_KEYS) <= _chapter_parameters(chapter), chapter
    hw = resolve_hardware(**{key: values.get(key) for key in HARDWARE_KEYS if key != "hardware"},
                          hardware=values.get("hardware", "b200"))
    assert hw.paper_dtype == "fp8"   # every scenario can price the paper's convention at FP8


def test_raw_numbers_match_the_h100_preset():
    raw = yaml.safe_load((ROOT / "parameters" / "raw-numbers.yaml").read_text())
    hw, preset = resolve_hardware(**raw), resolve_hardware("h100")
    for dtype in ("bf16", "fp8"):
        assert hw.intensity(dtype) == pytest.approx(preset.intensity(dtype), rel=1e-12)
