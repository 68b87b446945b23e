"""The cost model against the clock: read the engine's GPU results, score the predictions, calibrate one term.

`kinetics bench engine` times one decode step over a grid (model, batch, context, attention) and stores, next to
each time, what kinetics.cost predicts for the same step with the ceilings measured in the same run. Here we
score that prediction (mean absolute percentage error) and test one explanation of the gap: a fixed cost per layer
and step (kernel launches and the latency of small kernels, which a bytes-and-FLOPs roofline cannot see), fitted
on the batch-1 points only and judged on all the others.

Pure numpy: the chapters call this without a GPU.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinetics.errors import InputError
from kinetics.models import PRESET_CONFIGS, canonical_name, get_model
from kinetics.step_time import mape  # noqa: F401  (chapters import it from here too)


def _layers(model: str) -> int | None:
    """Decoder layers of a preset (None for a model the presets do not know)."""
    return get_model(model).num_layers if canonical_name(model) in PRESET_CONFIGS else None


def load_results(device: str) -> dict:
    """{"engine": ..., "engine_replay": ...} from data/results/<device>/ (the files that exist)."""
    from kinetics.paths import results_dir

    folder = results_dir(device)
    found = {}
    for name in ("engine", "engine_replay"):
        path = folder / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    if not found:
        raise InputError(f"no engine results in {folder} (run `kinetics bench engine` on that GPU)")
    return found


def _engine_runs(device: str) -> list[dict]:
    """Every data/results/<device>/engine*.json, each with its file's name under "file"."""
    from kinetics.paths import results_dir

    return [{**json.loads(path.read_text()), "file": path.name}
            for path in sorted(results_dir(device).glob("engine*.json"))]


def load_targets(device: str) -> dict:
    """The newest run (by its provenance date) among data/results/<device>/engine*.json that measured the targets
    part: that file's whole JSON, with its name under "file"."""
    from kinetics.paths import results_dir

    runs = [run for run in _engine_runs(device) if run.get("targets")]
    if not runs:
        raise InputError(f"no targets run in {results_dir(device)} (run `kinetics bench engine --parts targets` "
                         f"on that GPU)")
    return max(runs, key=lambda run: run["provenance"]["date"])


def load_saturated(device: str) -> list[dict]:
    """Every saturated run (one row per model and attention) of data/results/<device>/engine*.json, each with its
    file's name, provenance and ceilings; a (model, attention) measured twice keeps the newer run."""
    from kinetics.paths import results_dir

    newest: dict[tuple[str, str], dict] = {}
    for run in _engine_runs(device):
        for row in run.get("saturated", []):
            row = {**row, "file": run["file"], "provenance": run["provenance"], "ceilings": run["ceilings"]}
            key = (row["model"], row["attention"]["kind"])
            if key not in newest or row["provenance"]["date"] > newest[key]["provenance"]["date"]:
                newest[key] = row
    if not newest:
        raise InputError(f"no saturated run in {results_dir(device)} (run `kinetics bench engine --parts saturated` "
                         f"on that GPU)")
    return list(newest.values())


def validation_points(results: dict) -> list[dict]:
    """Every timed step, each kind of attention from the newest file that has it (with that file's provenance)."""
    newest: dict[str, tuple[str, list, dict]] = {}
    for name, data in results.items():
        block = data.get("validate")
        if not block:
            continue
        date = data["provenance"]["date"]
        for kind in {p["attention"] for p in block["points"]}:
            if kind not in newest or date > newest[kind][0]:
                newest[kind] = (date, [p for p in block["points"] if p["attention"] == kind], data["provenance"])
    points = []
    for kind, (_, kind_points, prov) in sorted(newest.items()):
        for p in kind_points:
            points.append({**p, "layers": _layers(p["model"]), "commit": prov["commit"], "date": prov["date"]})
    return points


@dataclass
class Calibration:
    """t = roofline prediction + layers x per_layer_s[attention]; per-layer costs fitted on batch-1 points."""

    per_layer_s: dict[str, float]
    fit_points: int
    mape_raw: float
    mape_raw_heldout: float
    mape_calibrated_heldout: float
    by_kind: dict[str, dict[str, float]]

    def predict(self, point: dict) -> float:
        return point["predicted_s"] + point["layers"] * self.per_layer_s[point["attention"]]


def calibrate(points: list[dict], fit_batch: int = 1) -> Calibration:
    """Fit the per-layer overhead of each attention kind on the `fit_batch` points; score on the rest."""
    if not points:
        raise InputError("no validation points to calibrate on")
    per_layer = {}
    for kind in sorted({p["attention"] for p in points}):
        fit = [p for p in points if p["attention"] == kind and p["batch"] == fit_batch]
        if not fit:
            raise InputError(f"no batch-{fit_batch} points for {kind} attention to fit the overhead on")
        gap = np.array([p["measured_s"] - p["predicted_s"] for p in fit])
        layers = np.array([p["layers"] for p in fit], float)
        per_layer[kind] = float(gap @ layers / (layers @ layers))   # least squares through the origin
    held = [p for p in points if p["batch"] != fit_batch]
    measured = [p["measured_s"] for p in held]
    cal = Calibration(per_layer, len(points) - len(held),
                      mape([p["measured_s"] for p in points], [p["predicted_s"] for p in points]),
                      mape(measured, [p["predicted_s"] for p in held]), 0.0, {})
    cal.mape_calibrated_heldout = mape(measured, [cal.predict(p) for p in held])
    for kind in per_layer:
        mine = [p for p in held if p["attention"] == kind]
        cal.by_kind[kind] = {
            "raw": mape([p["measured_s"] for p in mine], [p["predicted_s"] for p in mine]),
            "calibrated": mape([p["measured_s"] for p in mine], [cal.predict(p) for p in mine]),
            "per_layer_us": per_layer[kind] * 1e6, "points": len(mine)}
    return cal


def table(points: list[dict], calibration: Calibration | None = None):
    """The points as a pandas DataFrame (milliseconds, signed errors in percent)."""
    import pandas as pd

    frame = pd.DataFrame(points)
    frame["measured_ms"] = frame["measured_s"] * 1e3
    frame["predicted_ms"] = frame["predicted_s"] * 1e3
    frame["error_pct"] = 100 * (frame["predicted_s"] - frame["measured_s"]) / frame["measured_s"]
    if calibration is not None:
        frame["calibrated_ms"] = [calibration.predict(p) * 1e3 for p in points]
        frame["calibrated_error_pct"] = 100 * (frame["calibrated_ms"] - frame["measured_ms"]) / frame["measured_ms"]
    return frame[[c for c in ("model", "attention", "batch", "context", "measured_ms", "predicted_ms", "error_pct",
                              "calibrated_ms", "calibrated_error_pct") if c in frame.columns]]


def default_device(results_root: Path | None = None) -> str | None:
    """The first device folder holding engine results (for chapters run without a GPU)."""
    from kinetics.paths import RESULTS_DIR

    root = results_root or RESULTS_DIR
    for folder in sorted(root.glob("*")):
        if (folder / "engine.json").is_file():
            return folder.name
    return None


def calibrated_replay_seconds(replay_row: dict, calibration: Calibration) -> float:
    """A replay's predicted time plus the calibrated per-layer overhead of each of its decode steps."""
    layers = _layers(replay_row.get("model") or replay_row["workload"]["model"])
    if layers is None:
        raise InputError(f"unknown layer count for {replay_row.get('model')!r}")
    kind = replay_row["attention"]["kind"]
    return replay_row["predicted"]["seconds"] + replay_row["stats"]["decode_steps"] * layers * \
        calibration.per_layer_s[kind]
