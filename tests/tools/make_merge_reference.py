#!/usr/bin/python3
"""Reference results for ParamScope's merge methods, computed in numpy from mergekit's formulas
(merge_methods/generalized_task_arithmetic.py, sparsify.py, linear.py) on small random float32
tensors. Writes tests/data/merge/reference.json: per case the method, parameters, base and model
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

SPARSIFY = {"task_arithmetic": None, "ties": "magnitude", "breadcrumbs": "outliers", "breadcrumbs_ties": "outliers"}
CONSENSUS = {"task_arithmetic": None, "ties": "sum", "breadcrumbs": None, "breadcrumbs_ties": "sum"}
NORMALIZE = {"task_arithmetic": False, "ties": True, "breadcrumbs": False, "breadcrumbs_ties": False}


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

    def add(name, method, n_models, size, mparams, normalize=None, lam=1.0):
        base = rng.standard_normal(size).astype(np.float32)
        models = [(base + 0.1 * rng.standard_normal(size)).astype(np.float32) for _ in range(n_models)]
        # Some deltas exactly zero and some shared entries, as fine-tunes with frozen parts have.
        models[0][: size // 10] = base[: size // 10]
        if normalize is None:
            normalize = True if method == "linear" else NORMALIZE[method]
        if method == "linear":
            expected = linear(models, mparams, normalize)
        else:
            expected = gta(method, base, models, mparams, normalize, lam)
        cases.append({
            "name": name, "method": method, "normalize": normalize, "lambda": lam, "model_params": mparams,
            "base": base.tolist(), "models": [m.tolist() for m in models], "expected": expected.tolist(),
        })

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
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/tools/make_merge_reference.py", "cases": cases}, f)
        f.write("\n")
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
