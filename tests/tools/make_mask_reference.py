#!/usr/bin/python3
"""Reference masks and criteria comparisons for tests/unit/test_mask.cpp and test_compare.cpp,
computed independently with numpy (stable argsort + the documented tie rule) and
scipy.stats.spearmanr.

Run with Debian's python: /usr/bin/python3 tests/tools/make_mask_reference.py
Writes tests/data/mask/{masks.safetensors,masks.json,compare.safetensors,compare.json}.

Scores are stored compactly as uint8 codes into one float32 table per file (code 0 is NaN), so
that > 65536 elements fit in a few hundred KB and ties are many: most table values are bf16
(low 16 key bits zero: each first-level histogram bin holds one value), a cluster of float32
values shares first-level bins (so the second histogram level and the tie-count pass are needed),
and -0 / +0 are both present (equal scores). Expected masks are stored as np.packbits(...,
bitorder="little") of the field-order concatenation of every tensor's row-major mask.

Rules (paramscope/mask.h): k = round(fraction * n), halves up, n counting NaN; NaN never kept;
ties at the boundary kept in stream order (tensor by tensor in field order, row-major).
"""
import json
import os
import sys

import numpy as np
import scipy.stats

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "mask")


def bf16(x):
    """Round float32 values to bfloat16 (nearest even), kept as float32."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def make_table(rng):
    """256 float32 scores: [0] NaN, then ascending: bf16 values, -0 and +0, a float32 cluster."""
    vals = list(bf16(rng.normal(0.0, 1.0, 180).astype(np.float32)))
    vals += [np.float32(-0.0), np.float32(0.0)]
    # 1.5 + j * 2^-20: all share the high 16 bits of 1.5's key (one first-level bin).
    vals += [np.float32(1.5 + j * 2.0 ** -20) for j in range(40)]
    # 0.75 + j * 2^-18: another shared bin.
    vals += [np.float32(0.75 + j * 2.0 ** -18) for j in range(33)]
    assert len(vals) == 255
    body = np.array(vals, dtype=np.float32)
    body = body[np.argsort(body, kind="stable")]  # -0 before +0 is kept by the stable sort
    return np.concatenate([np.array([np.nan], dtype=np.float32), body])


def codes(rng, shape, nan_rate=0.02):
    """Codes with uneven weights (more ties on some values), about nan_rate NaN."""
    w = rng.uniform(0.2, 2.0, 255)
    w /= w.sum()
    c = rng.choice(np.arange(1, 256), size=int(np.prod(shape)), p=w).astype(np.uint8)
    c[rng.random(c.size) < nan_rate] = 0
    return c.reshape(shape)


def round_half_up(x):
    return int(np.floor(x + 0.5))


def topk_mask(v, k):
    """Mask of the k largest of the 1-D array v: NaN never kept, ties in index order."""
    m = np.zeros(v.size, dtype=bool)
    order = np.argsort(-v, kind="stable")  # NaN sort last; -0 == +0
    numbers = int(np.count_nonzero(~np.isnan(v)))
    m[order[:min(k, numbers)]] = True
    return m


def k_of(spec, n):
    return min(spec["count"], n) if spec.get("count", -1) >= 0 else round_half_up(spec["fraction"] * n)


def nm_mask(v, n, m):
    """N:M along dim 1 (ASP m4n2_1d): [out, in, ...] groups M input channels at fixed other indices."""
    if v.ndim < 2:
        return ~np.isnan(v)
    out, cin = v.shape[0], v.shape[1]
    rest = int(np.prod(v.shape[2:])) if v.ndim > 2 else 1
    g = v.reshape(out, cin // m, m, rest)
    order = np.argsort(-g, axis=2, kind="stable")  # ties: lower index first
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(m).reshape(1, 1, m, 1).repeat(out, 0).repeat(cin // m, 1).repeat(rest, 3), axis=2)
    keep = (rank < n) & ~np.isnan(g)
    return keep.reshape(v.shape)


def select(values, spec):
    """values: list of arrays in field order. Returns (list of bool masks, extra summary)."""
    scope = spec["scope"]
    extra = {}
    if scope == "global":
        flat = np.concatenate([v.ravel() for v in values])
        k = k_of(spec, flat.size)
        mflat = topk_mask(flat, k)
        kept = flat[mflat]
        if kept.size:
            t = kept.min()
            extra["threshold"] = float(t)
            extra["ties_kept"] = int(np.count_nonzero(kept == t))
            # The case the test is about: a tie group that straddles the boundary.
            extra["boundary_ties_total"] = int(np.count_nonzero(flat == t))
            extra["boundary_bin_keys"] = int(len(np.unique(flat[(flat.view(np.uint32) >> 16) ==
                                                                  (np.float32(t).view(np.uint32) >> 16)])))
        masks, at = [], 0
        for v in values:
            masks.append(mflat[at:at + v.size].reshape(v.shape))
            at += v.size
        return masks, extra
    if scope == "tensor":
        return [topk_mask(v.ravel(), k_of(spec, v.size)).reshape(v.shape) for v in values], extra
    if scope == "row":
        masks = []
        for v in values:
            if v.ndim < 2:
                masks.append(topk_mask(v.ravel(), k_of(spec, v.size)).reshape(v.shape))
                continue
            rows = v.reshape(v.shape[0], -1)
            masks.append(np.stack([topk_mask(r, k_of(spec, r.size)) for r in rows]).reshape(v.shape))
        return masks, extra
    if scope == "nm":
        return [nm_mask(v, spec["n"], spec["m"]) for v in values], extra
    if scope == "threshold":
        return [v >= np.float32(spec["threshold"]) for v in values], extra
    raise ValueError(scope)


def mask_reference():
    rng = np.random.default_rng(20240611)
    table = make_table(rng)
    tensors = [  # field order
        ("model.layers.0.mlp.up_proj.weight", (256, 288)),
        ("model.layers.0.self_attn.q_proj.weight", (64, 128)),
        ("model.layers.0.input_layernorm.weight", (96,)),
        ("model.conv.weight", (32, 16, 3, 3)),
        ("model.layers.1.mlp.down_proj.weight", (128, 160)),
    ]
    cs = [codes(rng, shape) for _, shape in tensors]
    values = [table[c] for c in cs]
    flat = np.concatenate([v.ravel() for v in values])
    # A count whose boundary is 0 with -0 and +0 both around it (equal scores, one tie group).
    zero_count = int(np.count_nonzero(flat > 0) + np.count_nonzero(flat == 0) // 2)
    cases = [
        ("global_10pct", {"scope": "global", "top": "10%", "fraction": 0.1}),
        ("global_37pct", {"scope": "global", "top": "37%", "fraction": 0.37}),
        ("global_count", {"scope": "global", "top": "12345", "count": 12345}),
        ("global_20pct", {"scope": "global", "top": "20%", "fraction": 0.2}),  # a bf16 boundary
        ("global_zero", {"scope": "global", "top": str(zero_count), "count": zero_count}),
        ("tensor_10pct", {"scope": "tensor", "top": "10%", "fraction": 0.1}),
        ("tensor_count", {"scope": "tensor", "top": "1000", "count": 1000}),
        ("row_30pct", {"scope": "row", "top": "30%", "fraction": 0.3}),
        ("nm_2_4", {"scope": "nm", "top": "", "n": 2, "m": 4, "scope_arg": "2:4"}),
        ("nm_4_8", {"scope": "nm", "top": "", "n": 4, "m": 8, "scope_arg": "4:8"}),
        ("threshold", {"scope": "threshold", "top": "0.75", "threshold": 0.75}),
    ]
    # The same codes through the table rounded to bf16 (scores of bf16 weights: every key of a
    # sign ends in the same 16 bits, so selections take their one-pass path; the float32
    # clusters collapse into large tie groups).
    table_bf16 = bf16(table)
    values_bf16 = [table_bf16[c] for c in cs]
    cases += [
        ("global_10pct_bf16", {"scope": "global", "top": "10%", "fraction": 0.1, "table": "bf16"}),
        ("global_37pct_bf16", {"scope": "global", "top": "37%", "fraction": 0.37, "table": "bf16"}),
        ("tensor_10pct_bf16", {"scope": "tensor", "top": "10%", "fraction": 0.1, "table": "bf16"}),
    ]
    st = {"table": table, "table_bf16": table_bf16}
    for (name, shape), c in zip(tensors, cs):
        st["codes." + name] = c
    out_cases = []
    for case, spec in cases:
        masks, extra = select(values_bf16 if spec.get("table") == "bf16" else values, spec)
        bits = np.concatenate([m.ravel() for m in masks])
        st["mask." + case] = np.packbits(bits, bitorder="little")
        entry = {"name": case, "scope": spec.get("scope_arg", spec["scope"]), "top": spec["top"],
                 "kept": int(bits.sum()), "total": int(bits.size),
                 "tensor_kept": [int(m.sum()) for m in masks], "table": spec.get("table", "float32")}
        entry.update(extra)
        out_cases.append(entry)
        print(case, entry["kept"], extra, file=sys.stderr)
    safetensors_io.save(os.path.join(OUT, "masks.safetensors"), st,
                        {"source": "tests/tools/make_mask_reference.py"})
    with open(os.path.join(OUT, "masks.json"), "w") as f:
        json.dump({"tensors": [{"name": n, "shape": list(s)} for n, s in tensors], "cases": out_cases}, f, indent=1)


def agreement(a, b, top_fraction):
    """Spearman (scipy) and top-k Jaccard over the elements where both are numbers."""
    ok = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[ok].astype(np.float64), b[ok].astype(np.float64)
    n = a.size
    k = round_half_up(top_fraction * n)
    rho = float(scipy.stats.spearmanr(a, b).correlation) if n >= 2 else float("nan")
    if k == 0:
        jac = None
    else:
        ta, tb = topk_mask(a, k), topk_mask(b, k)
        jac = float(np.count_nonzero(ta & tb) / np.count_nonzero(ta | tb))
    return {"elements": int(n), "spearman": None if np.isnan(rho) else rho, "topk_jaccard": jac}


def compare_reference():
    rng = np.random.default_rng(77)
    table = make_table(rng)
    tensors = [  # field order; blocks model.layers.0 / model.layers.1, and the final norm's own block
        ("model.layers.0.self_attn.q_proj.weight", (32, 32), "model.layers.0"),
        ("model.layers.0.mlp.up_proj.weight", (48, 64), "model.layers.0"),
        ("model.layers.1.self_attn.q_proj.weight", (32, 32), "model.layers.1"),
        ("model.layers.1.mlp.up_proj.weight", (48, 64), "model.layers.1"),
        ("model.norm.weight", (64,), "model.norm"),
    ]
    ca, cb = [], []
    for _, shape, _ in tensors:
        a = codes(rng, shape)
        # b: a's ranking perturbed, NaN placed independently.
        b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 1, 255).astype(np.uint8)
        b[rng.random(shape) < 0.02] = 0
        ca.append(a)
        cb.append(b)
    st = {"table": table}
    for (name, _, _), a, b in zip(tensors, ca, cb):
        st["a." + name] = a
        st["b." + name] = b
    units = {}
    for frac in (0.1, 0.3):
        va = [table[a].ravel() for a in ca]
        vb = [table[b].ravel() for b in cb]
        res = {"tensors": [], "blocks": []}
        for (name, _, _), a, b in zip(tensors, va, vb):
            res["tensors"].append(dict(name=name, **agreement(a, b, frac)))
        for block in ("model.layers.0", "model.layers.1", "model.norm"):
            idx = [i for i, t in enumerate(tensors) if t[2] == block]
            res["blocks"].append(dict(name=block, **agreement(np.concatenate([va[i] for i in idx]),
                                                                np.concatenate([vb[i] for i in idx]), frac)))
        res["overall"] = dict(name="(all)", **agreement(np.concatenate(va), np.concatenate(vb), frac))
        units[str(frac)] = res
    safetensors_io.save(os.path.join(OUT, "compare.safetensors"), st,
                        {"source": "tests/tools/make_mask_reference.py"})
    with open(os.path.join(OUT, "compare.json"), "w") as f:
        json.dump({"tensors": [{"name": n, "shape": list(s), "block": b} for n, s, b in tensors],
                   "results": units}, f, indent=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    mask_reference()
    compare_reference()
