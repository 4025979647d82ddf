#!/usr/bin/python3
"""Reference for ParamScope's interference analysis (core/src/merge/interference_*.cpp), computed
independently in numpy from the definitions in docs/merging.md ("Interference analysis").

Writes tests/data/interference/: base.safetensors and ft0..ft2.safetensors (bf16 and f32 tensors in
a few blocks, an I64 counter that is not analysed, exact zeros, ties in |tau| at the top-k cut and
one NaN delta) and reference.json with, for top fraction 0.2,
  * "magnitude": the top-k by |tau_i|;
  * "overlap_magnitude": the top-k by the magnitude criterion |theta_i| of each fine-tune (what
    `paramscope-cli interfere --criterion magnitude` uses);
each with every tensor's, block's and the model's raw sums and metrics, and the log10 |tau|
histograms; and "elements": the element maps of one tensor under TIES (density 0.5).
Run: /usr/bin/python3 tests/tools/make_interference_reference.py"""
import copy
import json
import math
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(__file__), "..", "data", "interference")
TOP = 0.2
HIST_LO, HIST_HI, HIST_BINS = -8.0, 1.0, 90

# name, shape, dtype, block (as ParamScope's hierarchy names it; blocks in model order)
TENSORS = [
    ("model.embed_tokens.weight", (32, 8), "BF16", "model.embed_tokens"),
    ("model.layers.0.self_attn.q_proj.weight", (16, 16), "F32", "model.layers.0"),
    ("model.layers.0.mlp.up_proj.weight", (24, 16), "BF16", "model.layers.0"),
    ("model.layers.1.self_attn.q_proj.weight", (16, 16), "F32", "model.layers.1"),
    ("model.layers.1.mlp.up_proj.weight", (24, 16), "BF16", "model.layers.1"),
    ("model.layers.1.input_layernorm.weight", (16,), "F32", "model.layers.1"),
    ("model.norm.weight", (16,), "BF16", "model.norm"),
    ("lm_head.weight", (32, 16), "F32", "lm_head"),
]
ELEMENT_TENSOR = "model.layers.0.self_attn.q_proj.weight"
ELEMENT_DENSITY = 0.5


def to_bf16(x):
    """Round float32 to bfloat16 (nearest even), returned as float32 values and the raw codes."""
    u = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return (r.astype(np.uint32) << 16).view(np.float32), r


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def make_models(rng):
    """Base and three fine-tunes as float32 values (what ParamScope reads), per tensor."""
    base, fts = {}, [{}, {}, {}]
    for name, shape, dtype, _ in TENSORS:
        n = int(np.prod(shape))
        if dtype == "F32":
            # Dyadic values: every delta is exact in float32, and many |tau| tie.
            b = np.round(rng.standard_normal(n) * 64) / 64
            shared = np.round(rng.standard_normal(n) * 4) / 256
        else:
            b = rng.standard_normal(n) * 0.5
            shared = rng.standard_normal(n) * 0.02
        b = b.astype(np.float32)
        if dtype == "BF16":
            b = to_bf16(b)[0]
        base[name] = b
        for i in range(3):
            if dtype == "F32":
                own = np.round(rng.standard_normal(n) * 4) / 256
            else:
                own = rng.standard_normal(n) * 0.02
            d = (0.6 if i < 2 else -0.3) * shared + own
            d[rng.random(n) < 0.25] = 0  # untouched entries: exact zero deltas
            x = (b + d).astype(np.float32)
            if dtype == "BF16":
                x = to_bf16(x)[0]
            fts[i][name] = x
    fts[2]["lm_head.weight"][5] = np.nan  # a NaN delta counts as zero
    return base, fts


def raw_bytes(values, dtype):
    if dtype == "BF16":
        return to_bf16(values)[1].astype("<u2").tobytes()
    return values.astype("<f4").tobytes()


M64 = (1 << 64) - 1


def mix64(z):
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def tie_hash(model, n):
    """The order in which model `model`'s top-k takes entries tied at the cut (ParamScope's
    merge_detail::tie_hash with tie_key(model)): mix64(key ^ mix64(index))."""
    key = mix64(np.uint64((0x71E5000000000000 + model) & M64))
    return mix64(key ^ mix64(np.arange(n, dtype=np.uint64)))


def top_mask(rank, valid, n, model):
    """Exact top-k: k = int(TOP * n), descending, ties by a per-model hash of the index; invalid
    entries never."""
    k = int(TOP * n)
    key = np.where(valid, rank, -np.inf)
    order = np.lexsort((tie_hash(model, n), -key))[:k]
    m = np.zeros(n, dtype=bool)
    m[order] = True
    return m & valid


def ratio(a, b):
    return None if b == 0 else a / b


def tensor_sums(taus, ranks):
    """taus: [N, n] float32 deltas (NaN kept); ranks: [N, n] what the top-k ranks by (NaN: never)."""
    N, n = taus.shape
    t = np.where(np.isnan(taus), np.float32(0), taus).astype(np.float64)
    top = np.stack([top_mask(ranks[i], ~np.isnan(ranks[i]), n, i) for i in range(N)])
    sg = np.sign(t)
    pos, neg = (sg > 0).any(0), (sg < 0).any(0)
    models = []
    for i in range(N):
        conflict = top[i] & (((sg[i] > 0) & neg) | ((sg[i] < 0) & pos))
        models.append({"sq": float((t[i] ** 2).sum()), "abs": float(np.abs(t[i]).sum()),
                       "nonzero": int((t[i] != 0).sum()), "top": int(top[i].sum()),
                       "top_conflicts": int(conflict.sum())})
    pairs = []
    for a in range(N):
        for b in range(a + 1, N):
            opp = sg[a] * sg[b] < 0
            pairs.append({"a": a, "b": b, "dot": float((t[a] * t[b]).sum()), "sq_a": float((t[a] ** 2).sum()),
                          "sq_b": float((t[b] ** 2).sum()), "sq_diff": float(((t[a] - t[b]) ** 2).sum()),
                          "both_nonzero": int(((sg[a] != 0) & (sg[b] != 0)).sum()),
                          "sign_conflicts": int(opp.sum()), "top_both": int((top[a] & top[b]).sum()),
                          "top_either": int((top[a] | top[b]).sum()),
                          "top_both_conflicts": int((top[a] & top[b] & opp).sum())})
    nz = (sg != 0).sum(0)
    kept = np.where(top, sg, 0)
    knz = (kept != 0).sum(0)
    kpos, kneg = (kept > 0).any(0), (kept < 0).any(0)
    group = {"entries": int(n), "multi_nonzero": int((nz >= 2).sum()),
             "sign_conflicts": int(((nz >= 2) & pos & neg).sum()), "top_multi": int((knz >= 2).sum()),
             "top_conflicts": int(((knz >= 2) & kpos & kneg).sum())}
    return {"numel": int(n), "models": models, "pairs": pairs, "group": group}


def add_sums(acc, s):
    if acc is None:
        return copy.deepcopy(s)
    acc["numel"] += s["numel"]
    for m, o in zip(acc["models"], s["models"]):
        for k in m:
            m[k] += o[k]
    for p, o in zip(acc["pairs"], s["pairs"]):
        for k in p:
            if k not in ("a", "b"):
                p[k] += o[k]
    for k in acc["group"]:
        acc["group"][k] += s["group"][k]
    return acc


def with_metrics(s):
    """Adds the metrics, computed from the sums as docs/merging.md defines them."""
    for p in s["pairs"]:
        p["cosine"] = None if p["sq_a"] == 0 or p["sq_b"] == 0 else p["dot"] / math.sqrt(p["sq_a"] * p["sq_b"])
        p["l2"] = math.sqrt(p["sq_diff"])
        p["sign_conflict"] = ratio(p["sign_conflicts"], p["both_nonzero"])
        p["top_conflict"] = ratio(p["top_both_conflicts"], p["top_both"])
        p["jaccard"] = ratio(p["top_both"], p["top_either"])
        p["magnitude_ratio"] = None if p["sq_b"] == 0 else math.sqrt(p["sq_a"]) / math.sqrt(p["sq_b"])
    g = s["group"]
    g["sign_conflict"] = ratio(g["sign_conflicts"], g["multi_nonzero"])
    g["top_conflict"] = ratio(g["top_conflicts"], g["top_multi"])
    return s


def histogram(taus):
    edges = 10.0 ** (HIST_LO + (HIST_HI - HIST_LO) * np.arange(1, HIST_BINS) / HIST_BINS)
    a = np.abs(taus.astype(np.float64))
    nans = np.isnan(a)
    zeros = a == 0
    bins = np.searchsorted(edges, a[~nans & ~zeros], side="right")
    return {"counts": np.bincount(bins, minlength=HIST_BINS).tolist(), "zeros": int(zeros.sum()),
            "nans": int(nans.sum())}


def report(base, fts, overlap):
    tensors, blocks, overall, block_order = [], {}, None, []
    all_taus = [[] for _ in fts]
    for name, _, _, block in TENSORS:
        taus = np.stack([(ft[name] - base[name]).astype(np.float32) for ft in fts])
        if overlap:
            ranks = np.stack([np.abs(ft[name]) for ft in fts])
        else:
            ranks = np.where(np.isnan(taus), np.float32(0), np.abs(taus))
        s = tensor_sums(taus, ranks)
        tensors.append(with_metrics(dict(copy.deepcopy(s), name=name, block=block)))
        if block not in blocks:
            block_order.append(block)
        blocks[block] = add_sums(blocks.get(block), s)
        overall = add_sums(overall, s)
        for i in range(len(fts)):
            all_taus[i].append(taus[i])
    return {"tensors": tensors,
            "blocks": [with_metrics(dict(blocks[b], name=b)) for b in block_order],
            "overall": with_metrics(dict(overall, name="")),
            "magnitudes": [histogram(np.concatenate(t)) for t in all_taus]}


def element_maps(base, fts):
    """TIES-style maps and the TIES preview (mergekit's formulas, weight 1, density 0.5)."""
    b = base[ELEMENT_TENSOR]
    n = b.size
    taus = np.stack([(ft[ELEMENT_TENSOR] - b).astype(np.float32) for ft in fts])
    t = np.where(np.isnan(taus), np.float32(0), taus).astype(np.float64)
    k = int(ELEMENT_DENSITY * n)
    kept = np.zeros_like(t)
    for i in range(len(fts)):
        order = np.argsort(-np.abs(t[i]), kind="stable")[:k]
        kept[i, order] = t[i, order]
    total = kept.sum(0)
    # TIES elects + on a tie (mergekit); 0 only where no kept delta is non-zero.
    elected = np.where((kept != 0).any(0), np.where(total >= 0, 1, -1), 0).astype(np.int64)
    disagree = ((np.sign(kept) * elected) < 0).sum(0)
    a = np.abs(t)
    dominant = np.where(a.max(0) > 0, np.argmax(a, axis=0), -1)  # argmax: first of equal maxima
    vote = np.where(total >= 0, 1, -1)  # mergekit: a tie elects +
    mask = np.sign(kept) == vote
    mixed = (kept * mask).sum(0)
    divisor = mask.sum(0).astype(np.float64)
    divisor[divisor == 0] = 1
    merged = (b.astype(np.float64) + mixed / divisor).astype(np.float32)
    contributes = (mask.astype(np.int64) << np.arange(len(fts))[:, None]).sum(0)
    return {"tensor": ELEMENT_TENSOR, "method": "ties", "density": ELEMENT_DENSITY,
            "elected_sign": elected.tolist(), "disagree": disagree.tolist(), "dominant": dominant.tolist(),
            "contributes": contributes.tolist(), "merged_delta": (merged - b).astype(np.float64).tolist()}


def main():
    rng = np.random.default_rng(20240605)
    base, fts = make_models(rng)
    os.makedirs(OUT, exist_ok=True)
    files = ["base.safetensors"] + [f"ft{i}.safetensors" for i in range(len(fts))]
    for fname, values in zip(files, [base] + fts):
        entries = [(name, dtype, shape, raw_bytes(values[name], dtype)) for name, shape, dtype, _ in TENSORS]
        entries.append(("steps", "I64", (1,), struct.pack("<q", 1000)))
        write_safetensors(os.path.join(OUT, fname), entries)
    ref = {"top_fraction": TOP, "base": files[0], "models": files[1:],
           "histogram": {"log10_lo": HIST_LO, "log10_hi": HIST_HI, "bins": HIST_BINS},
           "magnitude": report(base, fts, False), "overlap_magnitude": report(base, fts, True),
           "elements": element_maps(base, fts)}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
