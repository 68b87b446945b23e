"""A decode step's wall-clock time: the roofline's two terms plus what a roofline cannot see, fitted per GPU.

The bytes-and-FLOPs model (kinetics.cost) prices one decode step as compute C = FLOPs / peak and memory
M = bytes / bandwidth, added (or overlapped: max). A real step also pays a fixed cost per layer (kernel launches,
small latency-bound kernels: norms, the selection's top-k) and a cost per layer and row, and overlaps compute with
memory only in part. A batch of unequal contexts (a busy server's) also waits for its longest row: the attention
kernel gives each (row, KV head) its own programs, and the row with the most tokens finishes last. S is that
row's memory time beyond the mean row's (zero when every row holds the same context). The step model says

    t = a * layers + b * layers * rows + c * (C + M) + d * max(C, M) + e * S,     a, b, c, d, e >= 0,

one set of coefficients per attention backend (dense, block top-k): c alone is the additive roofline, d alone the
perfect-overlap one, and the fit decides between them; e is how much of the longest row's excess the step pays
(fitted on grid points whose rows have unequal contexts). The coefficients are fitted by non-negative least squares on
relative errors over a calibration half of a measured grid (`kinetics bench engine --parts validate`), and judged on
the other half. A calibration belongs to one GPU: it is saved with its provenance and refuses another device.

Pure numpy + scipy: chapters use it without a GPU.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from kinetics.errors import InputError

FEATURES = ("per_layer_s", "per_layer_row_s", "additive", "overlap", "longest_row_s")


def features(layers: float, rows: float, compute_s: float, memory_s: float, spread_s: float = 0.0) -> np.ndarray:
    """The step model's regressors for one step (see the module docstring)."""
    return np.array([layers, layers * rows, compute_s + memory_s, max(compute_s, memory_s), spread_s], dtype=float)


def _point_features(point: dict) -> np.ndarray:
    # grids of equal contexts recorded before the longest-row term have no spread: it is zero for them
    return features(point["layers"], point["batch"], point["predicted_compute_s"], point["predicted_memory_s"],
                    point.get("predicted_spread_s", 0.0))


def calibration_split(points: list[dict]) -> tuple[list[dict], list[dict]]:
    """Every other point of the grid to fit, the rest to judge; ordered by attention, equal or unequal contexts,
    model, batch and context, so that each half has each kind's share of every model and of the unequal batches."""
    order = sorted(points, key=lambda p: (p["attention"], p.get("ragged", False), p["layers"],
                                          p["model"], p["batch"], p["context"]))
    return order[0::2], order[1::2]


def mape(measured, predicted) -> float:
    """Mean absolute percentage error, as a fraction."""
    measured, predicted = np.asarray(measured, float), np.asarray(predicted, float)
    return float(np.mean(np.abs(predicted - measured) / measured))


@dataclass
class StepModel:
    coefficients: dict[str, list[float]]     # attention kind -> coefficients of FEATURES
    device: str
    provenance: dict = field(default_factory=dict)
    fit: dict = field(default_factory=dict)  # per kind: points fitted and held out, MAPE of each half

    def step_seconds(self, attention: str, layers: float, rows: float, compute_s: float, memory_s: float,
                     spread_s: float = 0.0) -> float:
        if attention not in self.coefficients:
            raise InputError(f"the step model of {self.device} has no {attention!r} backend "
                             f"(calibrated: {', '.join(sorted(self.coefficients))})")
        return float(features(layers, rows, compute_s, memory_s, spread_s) @ self._coefficients(attention))

    def _coefficients(self, attention: str) -> np.ndarray:
        """One per FEATURES entry (a calibration saved before the longest-row term has none for it: zero)."""
        c = np.zeros(len(FEATURES))
        given = np.asarray(self.coefficients[attention], dtype=float)
        c[:len(given)] = given
        return c

    def predict(self, point: dict) -> float:
        """Seconds of one measured grid point (a dict as `kinetics bench engine --parts validate` records)."""
        return float(_point_features(point) @ self._coefficients(point["attention"]))

    def save(self, path: str | Path) -> Path:
        """Atomic write (temp file + rename) of the calibration as JSON."""
        from kinetics.output import atomic_write

        return atomic_write(path, json.dumps({"features": FEATURES, **asdict(self)}, indent=1))

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> StepModel:
        """A saved calibration; `device` (a device slug such as nvidia-h200) must match the one it was fitted on."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            model = cls(data["coefficients"], data["device"], data.get("provenance", {}), data.get("fit", {}))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as error:
            raise InputError(f"{path}: not a step-model calibration ({error})") from None
        if device is not None and model.device != device:
            raise InputError(f"{path} is a calibration for {model.device}, not for {device}: calibrate this GPU "
                             f"with `kinetics bench engine --parts validate`")
        return model


def fit_step_model(points: list[dict], device: str, provenance: dict | None = None) -> StepModel:
    """NNLS fit of each backend's coefficients on the calibration half; MAPE on both halves.

    Each point needs: attention, model, layers, batch, context, measured_s, predicted_compute_s, predicted_memory_s
    and, for unequal contexts (ragged: true), predicted_spread_s (what `kinetics bench engine --parts validate` records)."""
    from scipy.optimize import nnls

    if not points:
        raise InputError("no measured steps to calibrate the step model on")
    fit_half, held_half = calibration_split(points)
    coefficients, report = {}, {}
    for kind in sorted({p["attention"] for p in points}):
        fit = [p for p in fit_half if p["attention"] == kind]
        held = [p for p in held_half if p["attention"] == kind]
        if len(fit) < len(FEATURES):
            raise InputError(f"{len(fit)} calibration points for {kind} attention; the step model needs at least "
                             f"{len(FEATURES)}")
        x = np.array([_point_features(p) for p in fit])
        y = np.array([p["measured_s"] for p in fit])
        scale = x.max(axis=0)
        scale[scale == 0] = 1.0
        solution, _ = nnls(x / scale / y[:, None], np.ones(len(fit)))   # relative errors, columns of one scale
        coefficients[kind] = [float(c) for c in solution / scale]
        model = StepModel({kind: coefficients[kind]}, device)
        report[kind] = {
            "fit_points": len(fit), "heldout_points": len(held),
            "mape_fit": mape(y, [model.predict(p) for p in fit]),
            "mape_heldout": mape([p["measured_s"] for p in held], [model.predict(p) for p in held])
            if held else None,
            "mape_roofline_heldout": mape([p["measured_s"] for p in held], [p["predicted_s"] for p in held])
            if held and all("predicted_s" in p for p in held) else None,
        }
    return StepModel(coefficients, device, provenance or {}, report)


def decode_step_terms(spec, hardware, attention, contexts, bucket: int = 32, memo: dict | None = None) -> dict:
    """kinetics.cost's seconds (compute, memory, and their sum) of one decode step of len(contexts) requests,
    request i's cache holding contexts[i] tokens after the step; the weights are read once for the batch.

    Each request's share is the cost of its one more token (the exact convention's marginal cost at this batch
    size); contexts are rounded to `bucket` tokens (under 1% of a step's KV bytes at 4k tokens) and `memo`
    (a dict the caller keeps) remembers each (context, batch) across steps, so a long window needs few cost
    evaluations. spread_seconds: the memory time of the longest row's share beyond the mean row's (the step
    model's longest-row term; zero when all contexts are equal)."""
    from kinetics.parallel_cost import decode_step_seconds

    contexts = np.asarray(contexts, dtype=np.int64)
    rows = len(contexts)
    memo = {} if memo is None else memo
    compute = memory = longest = 0.0
    for context in np.maximum(bucket, contexts // bucket * bucket):
        key = (int(context), rows)
        if key not in memo:   # a step of `rows` requests all at this context, shared out per request
            step = decode_step_seconds(spec, hardware, attention, rows, key[0])
            memo[key] = (step["compute_seconds"] / rows, step["memory_seconds"] / rows)
        compute += memo[key][0]
        memory += memo[key][1]
        longest = max(longest, memo[key][1])
    return {"compute_seconds": compute, "memory_seconds": memory, "seconds": compute + memory,
            "spread_seconds": max(0.0, longest - memory / max(rows, 1))}


def window_steps(snapshot: list[dict], decode_steps: int) -> list[np.ndarray]:
    """The contexts of the running requests at each decode step of a saturated window (engine.replay's snapshot:
    every request starts with `context` cached tokens, samples its first token at prefill, then decodes one token
    a step until it has made `decode`)."""
    context = np.array([r["context"] for r in snapshot])
    left = np.array([r["decode"] for r in snapshot]) - 1
    steps = []
    for j in range(decode_steps):
        running = left > j
        steps.append(context[running] + j + 2)     # cached after this step's write: prompt + first token + j + 1
    return steps


def predict_window(model: StepModel, spec, hardware, attention, kind: str, snapshot: list[dict],
                   decode_steps: int) -> dict:
    """Seconds of a saturated window (engine.replay's snapshot) by the step model and by the plain roofline."""
    memo: dict = {}
    predicted = roofline = 0.0
    for contexts in window_steps(snapshot, decode_steps):
        if len(contexts) == 0:
            continue
        terms = decode_step_terms(spec, hardware, attention, contexts, memo=memo)
        predicted += model.step_seconds(kind, spec.num_layers, len(contexts), terms["compute_seconds"],
                                        terms["memory_seconds"], terms["spread_seconds"])
        roofline += terms["seconds"]
    return {"seconds": predicted, "roofline_seconds": roofline}
