#!/usr/bin/python3
"""Baseline for ParamScope's merging benchmark (issue 5), as a numpy user would write it: the base
and the fine-tunes through np.memmap, tensor by tensor (each tensor's mapping is dropped once it
is converted, so resident memory is bounded by the largest tensor, not by the model).

  numpy_merge.py interfere BASE FT1 FT2 [...] [--top 0.2] [--compare report/interference.json]
  numpy_merge.py ties BASE FT1 FT2 [...] -o OUT.safetensors [--density 0.2]
  numpy_merge.py ties BASE FT1 FT2 [...] --compare MERGED_DIR --tensors NAME,NAME,...

interfere: per tensor and pooled over the model, the task vectors' pairwise cosine, L2 distance,
sign-conflict counts (entries where both deltas are non-zero and of opposite signs) and the
Jaccard overlap of their top-`top` entries by |tau| (np.argpartition; --ties-in-order keeps the
lowest indices among entries equal to the k-th, the rule `interfere` had before it took ties in a
per-model hash order, and the rule of ParamScope's TIES trim). With --compare, the pooled
sums are set beside those of `paramscope-cli interfere`'s JSON.
ties: TIES-merging (weights 1, lambda 1): per model the top int(density * n) entries by |tau|
(np.partition threshold; entries equal to it kept in element order, as ParamScope does), sum sign
election (+ on ties), disjoint mean; written as one BF16 safetensors file (fsynced). With
--compare, only the listed tensors are merged and compared with ParamScope's output.
Both print one JSON line with the wall seconds and the process's peak RSS.
"""
import argparse
import json
import os
import resource
import struct
import sys
import time

import numpy as np


def layout(path):
    """[(name, dtype, shape, file, absolute offset, count)] in file and offset order."""
    files = [path]
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if not os.path.exists(index):
            files = [os.path.join(path, "model.safetensors")]
        else:
            with open(index) as f:
                files = [os.path.join(path, s) for s in sorted(set(json.load(f)["weight_map"].values()))]
    out = []
    for fn in files:
        with open(fn, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        for name, info in sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                                 key=lambda kv: kv[1]["data_offsets"][0]):
            count = int(np.prod(info["shape"], dtype=np.int64))
            out.append((name, info["dtype"], info["shape"], fn, 8 + n + info["data_offsets"][0], count))
    return out


def load(entry):
    """float32 copy of one tensor; the mapping is released when the memmap goes."""
    name, dtype, shape, fn, off, count = entry
    raw = np.memmap(fn, dtype={"BF16": np.uint16, "F16": np.float16, "F32": np.float32}[dtype],
                    mode="r", offset=off, shape=(count,))
    w = (raw.astype(np.uint32) << 16).view(np.float32) if dtype == "BF16" else raw.astype(np.float32)
    del raw
    return w


def to_bf16(x):
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def models(args):
    base = layout(args.checkpoints[0])
    names = {e[0]: e for e in base}
    fts = []
    for path in args.checkpoints[1:]:
        m = {e[0]: e for e in layout(path)}
        for name, e in names.items():
            if name not in m or m[name][2] != e[2]:
                sys.exit(f"{path}: tensor {name} missing or of another shape")
        fts.append(m)
    floats = [e for e in base if e[1] in ("BF16", "F16", "F32")]
    return floats, fts


def task_vectors(e, fts):
    base = load(e)
    return base, [load(m[e[0]]) - base for m in fts]


def interfere(args):
    floats, fts = models(args)
    n_models = len(fts)
    pairs = [(a, b) for a in range(n_models) for b in range(a + 1, n_models)]
    keys = ("dot", "sq_a", "sq_b", "both_nonzero", "sign_conflicts", "top_both", "top_either")
    total = {p: dict.fromkeys(keys, 0) for p in pairs}
    per_tensor = {}
    for e in floats:
        _, taus = task_vectors(e, fts)
        n = taus[0].size
        k = int(args.top * n)
        sq = [float(np.dot(t, t)) for t in taus]
        sign = [np.sign(t).astype(np.int8) for t in taus]
        top = [top_mask(t, k, args.ties_in_order) for t in taus]
        rows = {}
        for a, b in pairs:
            prod = sign[a] * sign[b]
            inter = int(np.count_nonzero(top[a] & top[b]))
            s = {"dot": float(np.dot(taus[a], taus[b])), "sq_a": sq[a], "sq_b": sq[b],
                 "both_nonzero": int(np.count_nonzero(prod)), "sign_conflicts": int(np.count_nonzero(prod < 0)),
                 "top_both": inter, "top_either": 2 * k - inter}
            for key in keys:
                total[(a, b)][key] += s[key]
            rows[f"{a}-{b}"] = metrics(s)
        per_tensor[e[0]] = rows
        del taus, sign, top
    overall = {f"{a}-{b}": dict(metrics(total[(a, b)]), sums=total[(a, b)]) for a, b in pairs}
    out = {"tensors": len(floats), "overall": overall}
    if args.per_tensor:
        with open(args.per_tensor, "w") as f:
            json.dump(per_tensor, f, indent=1)
    if args.compare:
        out["compare"] = compare_interference(total, args.compare)
    return out


def top_mask(t, k, ties_in_order):
    """The k entries of largest |t|: np.argpartition's pick among entries equal to the k-th, or
    with ties_in_order the lowest indices among them (ParamScope's rule)."""
    n = t.size
    if k == 0:
        return np.zeros(n, dtype=bool)
    a = np.abs(t)
    if not ties_in_order:
        m = np.zeros(n, dtype=bool)
        m[np.argpartition(a, n - k)[n - k:]] = True
        return m
    thr = np.partition(a, n - k)[n - k]
    m = a > thr
    m[np.flatnonzero(a == thr)[:k - int(np.count_nonzero(m))]] = True
    return m


def metrics(s):
    den = np.sqrt(s["sq_a"] * s["sq_b"])
    return {"cosine": s["dot"] / den if den else None,
            "l2": float(np.sqrt(max(s["sq_a"] + s["sq_b"] - 2 * s["dot"], 0.0))),
            "sign_conflict": s["sign_conflicts"] / s["both_nonzero"] if s["both_nonzero"] else None,
            "jaccard": s["top_both"] / s["top_either"] if s["top_either"] else None}


def compare_interference(total, report):
    with open(report) as f:
        ps = json.load(f)["overall"]["pairs"]
    out = []
    for p in ps:
        mine, theirs = total[(p["a"], p["b"])], p["sums"]
        m = metrics(mine)
        out.append({"pair": f"{p['a']}-{p['b']}",
                    "cosine": [m["cosine"], p["cosine"]],
                    "l2": [m["l2"], p["l2"]],
                    "sign_conflicts": [mine["sign_conflicts"], theirs["sign_conflicts"]],
                    "both_nonzero": [mine["both_nonzero"], theirs["both_nonzero"]],
                    "jaccard": [m["jaccard"], p["jaccard"]],
                    "top_both": [mine["top_both"], theirs["top_both"]],
                    "top_either": [mine["top_either"], theirs["top_either"]]})
    return out


def ties_tensor(base, taus, density):
    n = base.size
    k = int(density * n)
    mixed = np.zeros(n, dtype=np.float32)
    kept = []
    for t in taus:
        if k == 0:
            t[:] = 0
        elif k < n:
            t[~top_mask(t, k, True)] = 0  # ties at the cut: in element order, as ParamScope
        mixed += t
        kept.append(t)
    elected = np.where(mixed >= 0, np.float32(1), np.float32(-1))
    delta = np.zeros(n, dtype=np.float32)
    count = np.zeros(n, dtype=np.float32)
    for t in kept:
        agree = np.sign(t) == elected
        delta += np.where(agree, t, 0)
        count += agree
    count[count == 0] = 1
    return base + delta / count


def ties(args):
    floats, fts = models(args)
    if args.compare:
        return compare_ties(args, floats, fts)
    header, off = {}, 0
    for e in floats:
        header[e[0]] = {"dtype": "BF16", "shape": e[2], "data_offsets": [off, off + 2 * e[5]]}
        off += 2 * e[5]
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(args.output, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for e in floats:
            base, taus = task_vectors(e, fts)
            f.write(to_bf16(ties_tensor(base, taus, args.density)).tobytes())
            del base, taus
        f.flush()
        os.fsync(f.fileno())
    return {"tensors": len(floats), "bytes": 8 + len(text) + off}


def compare_ties(args, floats, fts):
    merged = {e[0]: e for e in layout(args.compare)}
    want = args.tensors.split(",") if args.tensors else [e[0] for e in floats]
    out = {}
    for e in floats:
        if e[0] not in want:
            continue
        base, taus = task_vectors(e, fts)
        mine = to_bf16(ties_tensor(base, taus, args.density))
        theirs = load(merged[e[0]])
        m = (mine.astype(np.uint32) << 16).view(np.float32)
        diff = np.abs(m - theirs)
        # bf16 step of each value: 2^(exponent - 7); a difference of one step is a rounding.
        step = np.ldexp(np.float32(1), np.frexp(np.maximum(np.abs(m), np.abs(theirs)))[1] - 8)
        out[e[0]] = {"numel": int(m.size), "differ": int(np.count_nonzero(diff)),
                     "differ_fraction": float(np.count_nonzero(diff)) / m.size,
                     "max_abs_diff": float(diff.max()), "max_diff_in_bf16_steps": float((diff / step).max()),
                     "max_abs_value": float(np.abs(theirs).max())}
    return {"compared": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("interfere", "ties"))
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("-o", "--output")
    ap.add_argument("--top", type=float, default=0.2)
    ap.add_argument("--density", type=float, default=0.2)
    ap.add_argument("--compare")
    ap.add_argument("--tensors")
    ap.add_argument("--ties-in-order", action="store_true",
                    help="interfere: break ties at the top-k cut by element order (ParamScope's TIES trim)")
    ap.add_argument("--per-tensor", help="interfere: write the per-tensor metrics as JSON here")
    a = ap.parse_args()
    if len(a.checkpoints) < 3:
        sys.exit("need a base and at least 2 fine-tunes")
    if a.mode == "ties" and not (a.output or a.compare):
        sys.exit("ties needs -o OUT.safetensors or --compare MERGED")
    t0 = time.perf_counter()
    out = interfere(a) if a.mode == "interfere" else ties(a)
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
