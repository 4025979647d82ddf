#!/usr/bin/python3
"""Baseline for paramscope-bench-spectral: singular values (no vectors) of one matrix with
numpy.linalg.svd(compute_uv=False), as a user would compute them, on numpy's BLAS/LAPACK (on
Debian 12: OpenBLAS through the libblas.so.3/liblapack.so.3 alternatives).

  numpy_svd.py MATRIX.npy [--repeat N] [--float64]

Prints one JSON object: best and all wall times of the float32 SVD (sgesdd), its singular values,
and with --float64 the time and values of the SVD of the same matrix in float64 (dgesdd), the
reference for accuracy. Also the BLAS library and thread count numpy runs with."""
import argparse
import json
import time

import numpy as np


def blas_info():
    try:
        from threadpoolctl import threadpool_info

        return [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "filepath")} for p in threadpool_info()]
    except ImportError:
        return []


def timed_svd(a, repeat):
    times, s = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        s = np.linalg.svd(a, compute_uv=False)
        times.append(time.perf_counter() - t0)
    return times, s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("matrix")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--float64", action="store_true")
    a = ap.parse_args()
    w = np.load(a.matrix)
    assert w.dtype == np.float32 and w.ndim == 2, (w.dtype, w.shape)
    times, s = timed_svd(w, a.repeat)
    out = {"shape": list(w.shape), "seconds": min(times), "all_seconds": times,
           "singular_values": [float(x) for x in s], "blas": blas_info()}
    if a.float64:
        t64, s64 = timed_svd(w.astype(np.float64), 1)
        out["seconds_float64"] = t64[0]
        out["singular_values_float64"] = [float(x) for x in s64]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
