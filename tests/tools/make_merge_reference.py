#!/usr/bin/python3
"""Reference results for ParamScope's merge methods, computed in numpy from mergekit's formulas
(merge_methods/generalized_task_arithmetic.py, sparsify.py, linear.py), PEFT's magnitude_prune,
the PCB-merging authors' PCB_merge (duguodong7/pcb-merging, pcb-merging.py, applied per tensor)
and the importance-weighted (Fisher) mean on small random float32 tensors. Writes tests/data/merge/reference.json: per case the method, parameters, base and model
values and the merged values. DARE's drop is random (torch's generator), so DARE is checked in
the C++ tests by its statistics and rescale instead.

Two deliberate differences from mergekit, both documented in docs/merging.md:
  * ties at the top-k boundary are broken by element index (mergekit: argsort's order);
  * breadcrumbs with int(gamma * n) == 0 keeps [n_bot, n) (mergekit's indices[n_bot:-0] is empty).
Run: /usr/bin/python3 tests/tools/make_merge_reference.py"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "merge", "reference.json")

SPARSIFY = {"task_arithmetic": None, "ties": "magnitude", "breadcrumbs": "outliers", "breadcrumbs_ties": "outliers",
            "magnitude_prune": "magnitude"}
CONSENSUS = {"task_arithmetic": None, "ties": "sum", "breadcrumbs": None, "breadcrumbs_ties": "sum",
             "magnitude_prune": None}
NORMALIZE = {"task_arithmetic": False, "ties": True, "breadcrumbs": False, "breadcrumbs_ties": False,
             "magnitude_prune": False, "pcb": False, "importance_weighted": False}
PCB_CLIP = 0.0001  # pcb-merging.py: clamp(|tau|, min_ratio=0.0001, max_ratio=0.0001)


def pcb(base, models, mparams, ratio, lam):
    """PCB_merge per tensor, in float32 as torch computes it (rows = models, dim 1 = elements)."""
    taus = np.stack([(x - base).astype(np.float32) for x in models])
    n, d = taus.shape
    a = np.abs(taus)
    s = np.sort(a, axis=1)
    lo = s[:, int(d * PCB_CLIP)][:, None]
    hi = s[:, int(d * (1 - PCB_CLIP) - 1)][:, None]
    c = np.minimum(np.maximum(a, lo), hi)  # torch.clamp(x, min, max)
    clipped = np.sign(taus) * c
    cmin, cmax = c.min(axis=1, keepdims=True), c.max(axis=1, keepdims=True)
    intra = np.exp(np.float32(n) * ((c - cmin) / (cmax - cmin)) ** 2)  # softmax over dim 1, up to a row constant
    inter = np.tanh(taus * taus.sum(axis=0))
    b = (intra * inter).astype(np.float32)
    sb = np.sort(b, axis=1)
    cut = sb[:, int(d * (1 - ratio))][:, None]
    top = sb[:, d - 1][:, None]
    scale = (np.minimum(np.maximum(b, cut), top) - cut) / (top - cut)
    w = np.array([p["weight"] for p in mparams], dtype=np.float32)[:, None]
    merged = (clipped * w * scale).sum(axis=0) / np.maximum(scale.sum(axis=0), 1e-12)
    return (base + np.float32(lam) * merged).astype(np.float32)


def importance_weighted(base, models, mparams, importance, lam):
    taus = np.stack([(x - base).astype(np.float64) for x in models])
    w = np.array([p["weight"] for p in mparams], dtype=np.float64)[:, None]
    ws = w * np.stack(importance).astype(np.float64)
    den = ws.sum(axis=0)
    plain = (w * taus).sum(axis=0) / w.sum()
    merged = np.where(den != 0, (ws * taus).sum(axis=0) / np.where(den != 0, den, 1), plain)
    return (base + lam * merged).astype(np.float32)


def descending_order(tau):
    # Descending |tau|, ties by ascending index (a stable sort of -|tau|).
    return np.argsort(-np.abs(tau), kind="stable")


def magnitude(tau, density):
    if density >= 1:
        return tau
    k = int(density * tau.size)
    mask = np.zeros(tau.size, dtype=np.float32)
    mask[descending_order(tau)[:k]] = 1
    return tau * mask


def outliers(tau, density, gamma):
    if density >= 1:
        return tau
    n = tau.size
    target = int(density * n)
    n_top = int(gamma * n)
    n_bot = n - target - n_top
    if n_bot < 0:
        n_top += n_bot
        n_bot = 0
    order = descending_order(tau)  # rank r keeps iff n_top <= r < n - n_bot
    mask = np.zeros(n, dtype=np.float32)
    mask[order[n_top:n - n_bot]] = 1
    return tau * mask


def gta(method, base, models, mparams, normalize, lam):
    deltas = []
    for x, p in zip(models, mparams):
        tau = (x - base).astype(np.float32)
        s = SPARSIFY[method]
        if s == "magnitude":
            tau = magnitude(tau, p["density"])
        elif s == "outliers":
            tau = outliers(tau, p["density"], p["gamma"])
        deltas.append(tau)
    deltas = np.stack(deltas)
    weights = np.array([p["weight"] for p in mparams], dtype=np.float32)[:, None]
    wd = deltas * weights
    if CONSENSUS[method]:
        sign = np.sign(wd)
        majority = np.where(wd.sum(axis=0) >= 0, 1.0, -1.0).astype(np.float32)
        mask = (sign == majority).astype(np.float32)
        mixed = (wd * mask).sum(axis=0)
        divisor = (weights * mask).sum(axis=0)
        divisor[divisor == 0] = 1
    else:
        mixed = wd.sum(axis=0)
        divisor = np.full(mixed.shape, weights.sum(), dtype=np.float32)
        divisor[np.abs(divisor) < 1e-8] = 1
    if normalize:
        mixed = mixed / divisor
    mixed = mixed * np.float32(lam)
    return (base + mixed).astype(np.float32)


def linear(models, mparams, normalize):
    w = np.array([p["weight"] for p in mparams], dtype=np.float32)[:, None]
    res = (np.stack(models) * w).sum(axis=0)
    if normalize:
        res = res / w.sum()
    return res.astype(np.float32)


def main():
    rng = np.random.default_rng(20261127)
    cases = []

    def add(name, method, n_models, size, mparams, normalize=None, lam=1.0, pcb_ratio=0.1):
        base = rng.standard_normal(size).astype(np.float32)
        models = [(base + 0.1 * rng.standard_normal(size)).astype(np.float32) for _ in range(n_models)]
        # Some deltas exactly zero and some shared entries, as fine-tunes with frozen parts have.
        models[0][: size // 10] = base[: size // 10]
        if normalize is None:
            normalize = True if method == "linear" else NORMALIZE[method]
        case = {"name": name, "method": method, "normalize": normalize, "lambda": lam, "model_params": mparams}
        if method == "linear":
            expected = linear(models, mparams, normalize)
        elif method == "pcb":
            expected = pcb(base, models, mparams, pcb_ratio, lam)
            case["pcb_ratio"] = pcb_ratio
        elif method == "importance_weighted":
            # Non-negative scores, zero for every model on the first fifth (the weighted-mean fallback).
            importance = [np.abs(rng.standard_normal(size)).astype(np.float32) for _ in range(n_models)]
            for imp in importance:
                imp[: size // 5] = 0
            importance[1][size // 5: size // 3] = 0
            expected = importance_weighted(base, models, mparams, importance, lam)
            case["importance"] = [m.tolist() for m in importance]
        else:
            expected = gta(method, base, models, mparams, normalize, lam)
        case.update({"base": base.tolist(), "models": [m.tolist() for m in models], "expected": expected.tolist()})
        cases.append(case)

    add("linear_3", "linear", 3, 64, [{"weight": 0.5}, {"weight": 0.3}, {"weight": 0.2}])
    add("linear_unnormalized", "linear", 2, 64, [{"weight": 1.0}, {"weight": 0.5}], normalize=False)
    add("task_arithmetic", "task_arithmetic", 3, 128, [{"weight": 1.0}, {"weight": 0.5}, {"weight": -0.3}], lam=0.8)
    add("task_arithmetic_normalized", "task_arithmetic", 2, 128, [{"weight": 0.7}, {"weight": 0.3}], normalize=True)
    add("ties_default", "ties", 3, 240, [{"weight": 1.0, "density": 0.5}, {"weight": 0.6, "density": 0.3},
                                          {"weight": 0.4, "density": 0.7}])
    add("ties_unnormalized_lambda", "ties", 2, 240, [{"weight": 1.0, "density": 0.2}, {"weight": 1.0, "density": 0.9}],
        normalize=False, lam=1.5)
    add("ties_density_1", "ties", 2, 100, [{"weight": 0.5, "density": 1.0}, {"weight": 0.5, "density": 1.0}])
    add("breadcrumbs", "breadcrumbs", 2, 300, [{"weight": 1.0, "density": 0.5, "gamma": 0.05},
                                               {"weight": 0.5, "density": 0.8, "gamma": 0.01}])
    add("breadcrumbs_ties", "breadcrumbs_ties", 3, 300, [{"weight": 1.0, "density": 0.6, "gamma": 0.02},
                                                         {"weight": 0.8, "density": 0.4, "gamma": 0.1},
                                                         {"weight": 0.5, "density": 0.95, "gamma": 0.1}])
    add("magnitude_prune", "magnitude_prune", 3, 240, [{"weight": 1.0, "density": 0.5}, {"weight": 0.6, "density": 0.3},
                                                       {"weight": -0.4, "density": 0.7}], lam=0.9)
    add("magnitude_prune_normalized", "magnitude_prune", 2, 200, [{"weight": 0.7, "density": 0.2},
                                                                  {"weight": 0.3, "density": 1.0}], normalize=True)
    add("pcb_default", "pcb", 3, 400, [{"weight": 1.0}, {"weight": 1.0}, {"weight": 1.0}])
    add("pcb_ratio_weights", "pcb", 2, 300, [{"weight": 1.2}, {"weight": 0.8}], lam=0.5, pcb_ratio=0.3)
    add("pcb_4_models", "pcb", 4, 250, [{"weight": 1.0}, {"weight": 0.5}, {"weight": 1.5}, {"weight": 1.0}],
        pcb_ratio=0.05)
    add("importance_weighted", "importance_weighted", 3, 150, [{"weight": 1.0}, {"weight": 0.5}, {"weight": 2.0}],
        lam=0.8)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/tools/make_merge_reference.py", "cases": cases}, f)
        f.write("\n")
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
