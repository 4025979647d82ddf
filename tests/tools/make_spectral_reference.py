#!/usr/bin/python3
"""Writes tests/data/spectral/: small weight matrices (.npy) with known spectra and the metrics
ParamScope must compute for them (expected.json), for tests/unit/test_spectral.cpp.

The references are numpy's: singular values from numpy.linalg.svd in float64 of the float32
matrix, and the power-law fit from a numpy port of WeightWatcher 0.7's default fit (WWFit in
weightwatcher/WW_powerlaw.py, pl_package='ww', xmax=None, fix_fingers=False; Debian packages
neither weightwatcher nor powerlaw, so the port is the reference). Conv tensors follow
weightwatcher.py: pooled per-kernel-position [out, in] slices, each scaled by sqrt(1/2)
(conv2d_norm with conv2d_count = 1), eigenvalues = sv**2.

Matrices with a heavy-tailed spectrum are U diag(sigma) V^T with U, V random orthogonal and
lambda = sigma^2 drawn from a Pareto density p(lambda) ~ lambda^-alpha_true (lambda >= 1), so the
fitted alpha must come out near alpha_true.

Run with Debian's python: /usr/bin/python3 tests/tools/make_spectral_reference.py
"""
import json
import os

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "spectral")
EVALS_THRESH = 1e-5  # weightwatcher/constants.py


def ww_fit(evals):
    """WWFit(evals[evals > EVALS_THRESH]) as WeightWatcher runs it; None when it fails."""
    data = np.sort(np.asarray(evals, dtype=np.float64)[evals > EVALS_THRESH])
    n_all = len(data)
    if n_all < 2:
        return None
    log_data = np.log(data)
    alphas = np.zeros(n_all - 1)
    ds = np.ones(n_all - 1)  # WWFit leaves D = 1 where alpha <= 1
    with np.errstate(divide="ignore"):
        for i in range(n_all - 1):
            n = float(n_all - i)
            alpha = 1 + n / (np.sum(log_data[i:]) - n * log_data[i])
            alphas[i] = alpha
            if alpha > 1:
                theoretical = 1 - (data[i:] / data[i]) ** (-alpha + 1)
                ds[i] = np.max(np.abs(theoretical - np.arange(n) / n))
    best = int(np.argmin(ds))
    if not np.isfinite(alphas[best]):
        return None
    return {"alpha": float(alphas[best]), "xmin": float(data[best]), "ks_distance": float(ds[best])}


def fit_fields(evals):
    evals = np.asarray(evals, dtype=np.float64)
    fit = ww_fit(evals)
    if fit is None:
        return {"alpha": 0.0, "xmin": 0.0, "ks_distance": 0.0, "alpha_weighted": 0.0, "tail_size": 0}
    fit["alpha_weighted"] = fit["alpha"] * float(np.log10(np.max(evals)))
    fit["tail_size"] = int(np.sum(evals >= fit["xmin"]))  # WeightWatcher's num_pl_spikes
    return fit


def metrics(sv, frobenius, fit_evals):
    sv = np.sort(np.asarray(sv, dtype=np.float64))[::-1]
    p = sv / sv.sum()
    p = p[p > 0]
    m = {
        "singular_values": [float(x) for x in sv],
        "frobenius": float(frobenius),
        "spectral_norm": float(sv[0]),
        "stable_rank": float(frobenius**2 / sv[0] ** 2),
        "effective_rank": float(np.exp(-np.sum(p * np.log(p)))),
    }
    m.update(fit_fields(fit_evals))
    return m


def svals(w):
    return np.linalg.svd(np.asarray(w, dtype=np.float64), compute_uv=False)


def frob(w):
    return float(np.sqrt(np.sum(np.asarray(w, dtype=np.float64) ** 2)))


def flatten_metrics(w):
    m2 = w.reshape(w.shape[0], -1)
    sv = svals(m2)
    out = metrics(sv, frob(w), sv**2)
    out["rows"], out["cols"], out["matrices"] = int(m2.shape[0]), int(m2.shape[1]), 1
    return out


def weightwatcher_conv_metrics(w):
    """[out, in, kh, kw]: weightwatcher.py's conv2D_Wmats + apply_normalize_Wmats + combined_eigenvalues."""
    out_ch, in_ch, kh, kw = w.shape
    sv_all, evals = [], []
    norm = np.sqrt(1 / 2.0)
    for i in range(kh):
        for j in range(kw):
            slice_ = w[:, :, i, j].astype(np.float64)
            sv_all.extend(svals(slice_))
            evals.extend(svals(slice_ * norm) ** 2)
    out = metrics(sv_all, frob(w), np.array(evals))
    out["rows"], out["cols"], out["matrices"] = int(out_ch), int(in_ch), int(kh * kw)
    return out


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))


def heavy_tailed(rng, rows, cols, alpha_true):
    k = min(rows, cols)
    lam = (1 - rng.random(k)) ** (-1 / (alpha_true - 1))  # Pareto, xmin = 1
    u = orthogonal(rng, rows)[:, :k]
    v = orthogonal(rng, cols)[:, :k]
    return ((u * np.sqrt(lam)) @ v.T).astype(np.float32)


def bf16_round(x):
    """float32 -> bfloat16 -> float32, round to nearest even (as torch and ParamScope convert)."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return (b.astype(np.uint32) << 16).view(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    expected = {"generator": "tests/tools/make_spectral_reference.py", "matrices": {}, "fits": {}}

    cases = {
        "heavy_a2.5_192x96": (heavy_tailed(rng, 192, 96, 2.5), 2.5),
        "heavy_a4_80x128": (heavy_tailed(rng, 80, 128, 4.0), 4.0),
        "gaussian_150x60": ((rng.standard_normal((150, 60)) / np.sqrt(150)).astype(np.float32), None),
    }
    for name, (w, alpha_true) in cases.items():
        np.save(os.path.join(OUT, name + ".npy"), w)
        e = {"file": name + ".npy", "flatten": flatten_metrics(w)}
        if alpha_true is not None:
            e["alpha_true"] = alpha_true
        expected["matrices"][name] = e

    # The first heavy-tailed matrix stored as bf16: metrics of its bf16-rounded values.
    w = cases["heavy_a2.5_192x96"][0]
    expected["matrices"]["heavy_a2.5_192x96"]["bf16"] = flatten_metrics(bf16_round(w))

    conv = (rng.standard_normal((16, 8, 3, 3)) * 0.2).astype(np.float32)
    conv[:4] *= 5  # a few strong filters, so the pooled spectrum has a tail
    np.save(os.path.join(OUT, "conv_16x8x3x3.npy"), conv)
    expected["matrices"]["conv_16x8x3x3"] = {
        "file": "conv_16x8x3x3.npy",
        "flatten": flatten_metrics(conv),
        "weightwatcher": weightwatcher_conv_metrics(conv),
    }

    # A fit on its own: 2000 Pareto eigenvalues (alpha 3, xmin 0.5) below a bulk the fit must skip.
    lam = np.concatenate([0.5 * (1 - rng.random(2000)) ** (-1 / 2.0), rng.random(500) * 0.5,
                          np.full(20, 1e-6)])
    rng.shuffle(lam)
    np.save(os.path.join(OUT, "pareto_a3.npy"), lam)
    expected["fits"]["pareto_a3"] = dict(file="pareto_a3.npy", alpha_true=3.0, **fit_fields(lam))

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
