#!/usr/bin/python3
"""Writes tests/data/importance/: a one-layer LLaMA-shaped model (bf16, f16 and f32 tensors, one
NaN), a base model, statistics gathered by running it in torch (activation L2 norms per input
feature, accumulated gradients and squared gradients over 4 samples, for two data sets), and
expected.json: every criterion's scores and reductions computed here with numpy, independently
of ParamScope."""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "importance")
H, HEADS, MLP, VOCAB = 8, 2, 12, 16


def make_weights(seed):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.5  # noqa: E731
    return {
        "model.embed_tokens.weight": r(VOCAB, H),
        "model.layers.0.self_attn.q_proj.weight": r(H, H),
        "model.layers.0.self_attn.k_proj.weight": r(H, H),
        "model.layers.0.self_attn.v_proj.weight": r(H, H),
        "model.layers.0.self_attn.o_proj.weight": r(H, H),
        "model.layers.0.mlp.gate_proj.weight": r(MLP, H),
        "model.layers.0.mlp.up_proj.weight": r(MLP, H),
        "model.layers.0.mlp.down_proj.weight": r(H, MLP),
        "model.layers.0.input_layernorm.weight": 1 + 0.1 * r(H),
        "model.norm.weight": 1 + 0.1 * r(H),
        "lm_head.weight": r(VOCAB, H),
        "conv.weight": r(4, 3, 3, 3),
    }


# Stored dtypes: matrices in bf16 (as LLaMA checkpoints), MLP in f16, conv and norms in f32.
DTYPES = {"mlp.": torch.float16, "conv": torch.float32, "norm": torch.float32}


def stored(name, t):
    for key, dt in DTYPES.items():
        if key in name:
            return t.to(dt)
    return t.to(torch.bfloat16)


def forward(w, ids, image):
    """A one-layer LLaMA-style decoder (no rotary, for brevity) plus a conv on an image."""
    x = w["model.embed_tokens.weight"][ids]
    def rms(v, g):
        return g * v * torch.rsqrt(v.pow(2).mean(-1, keepdim=True) + 1e-5)
    h = rms(x, w["model.layers.0.input_layernorm.weight"])
    q = h @ w["model.layers.0.self_attn.q_proj.weight"].T
    k = h @ w["model.layers.0.self_attn.k_proj.weight"].T
    v = h @ w["model.layers.0.self_attn.v_proj.weight"].T
    t = ids.shape[0]
    qh, kh, vh = (z.view(t, HEADS, H // HEADS).transpose(0, 1) for z in (q, k, v))
    att = (qh @ kh.transpose(-1, -2) / math.sqrt(H // HEADS)).masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1),
                                                                         float("-inf")).softmax(-1)
    a = (att @ vh).transpose(0, 1).reshape(t, H)
    x = x + a @ w["model.layers.0.self_attn.o_proj.weight"].T
    h2 = rms(x, w["model.layers.0.input_layernorm.weight"])
    m = F.silu(h2 @ w["model.layers.0.mlp.gate_proj.weight"].T) * (h2 @ w["model.layers.0.mlp.up_proj.weight"].T)
    x = x + m @ w["model.layers.0.mlp.down_proj.weight"].T
    logits = rms(x, w["model.norm.weight"]) @ w["lm_head.weight"].T
    conv = F.conv2d(image, w["conv.weight"]).pow(2).mean()
    inputs = {"model.layers.0.self_attn.q_proj.weight": h, "model.layers.0.self_attn.k_proj.weight": h,
              "model.layers.0.self_attn.v_proj.weight": h, "model.layers.0.self_attn.o_proj.weight": a,
              "model.layers.0.mlp.gate_proj.weight": h2, "model.layers.0.mlp.up_proj.weight": h2,
              "model.layers.0.mlp.down_proj.weight": m, "lm_head.weight": rms(x, w["model.norm.weight"])}
    return logits, conv, inputs


def gather_stats(weights, seed):
    """Sum over 4 samples of the gradients and squared gradients; activation L2 norms over all tokens."""
    g = torch.Generator().manual_seed(seed)
    w = {k: v.float().clone().requires_grad_(True) for k, v in weights.items()}
    grad = {k: torch.zeros_like(v) for k, v in w.items()}
    grad_sq = {k: torch.zeros_like(v) for k, v in w.items()}
    act_sq = {}
    for _ in range(4):
        ids = torch.randint(0, VOCAB, (6,), generator=g)
        image = torch.randn(1, 3, 5, 5, generator=g)
        logits, conv, inputs = forward(w, ids, image)
        loss = F.cross_entropy(logits[:-1], ids[1:]) + conv
        for k, z in inputs.items():
            act_sq[k] = act_sq.get(k, 0) + z.detach().pow(2).sum(0)
        # conv input channels: the image, over all positions the kernel sees (all of it here)
        act_sq["conv.weight"] = act_sq.get("conv.weight", 0) + image.pow(2).sum((0, 2, 3))
        for p in w.values():
            p.grad = None
        loss.backward()
        for k, p in w.items():
            grad[k] += p.grad
            grad_sq[k] += p.grad.pow(2)
    stats = {}
    for k in w:
        if k in act_sq:
            stats[k + "@act_l2"] = act_sq[k].sqrt()
        stats[k + "@grad"] = grad[k]
        stats[k + "@grad_sq"] = grad_sq[k]
    return stats


def f32(t):
    return t.float().numpy().astype(np.float32)


def reductions(scores, axis_groups):
    """sum/mean/max/l2 of finite scores per group (list of index arrays into a flat array)."""
    out = {"sum": [], "mean": [], "max": [], "l2": []}
    for idx in axis_groups:
        v = scores.reshape(-1)[idx].astype(np.float64)
        v = v[np.isfinite(v)]
        out["sum"].append(float(v.sum()))
        out["mean"].append(float(v.mean()) if v.size else None)
        out["max"].append(float(v.max()) if v.size else None)
        out["l2"].append(float(np.sqrt((v * v).sum())))
    return out


def groups(shape, kind, heads=None):
    n = int(np.prod(shape))
    flat = np.arange(n).reshape(shape)
    if kind == "row":
        return [flat[i].reshape(-1) for i in range(shape[0])]
    if kind == "column":
        return [flat[:, j].reshape(-1) for j in range(shape[1])]
    if kind == "head_rows":
        per = shape[0] // heads
        return [flat[h * per:(h + 1) * per].reshape(-1) for h in range(heads)]
    if kind == "head_cols":
        per = shape[1] // heads
        return [flat[:, h * per:(h + 1) * per].reshape(-1) for h in range(heads)]
    return [flat.reshape(-1)]


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    model = {k: stored(k, v) for k, v in make_weights(1).items()}
    # One NaN in a scored matrix: every criterion must leave it out of reductions and masks.
    up = model["model.layers.0.mlp.up_proj.weight"].clone()
    up[0, 0] = float("nan")
    model["model.layers.0.mlp.up_proj.weight"] = up
    base = {k: stored(k, v) for k, v in make_weights(2).items()}
    clean = {k: (v.float().nan_to_num(0.0)) for k, v in model.items()}
    stats_a = gather_stats(clean, 3)
    stats_b = gather_stats(clean, 4)
    safetensors_io.save(os.path.join(OUT, "model.safetensors"), model)
    safetensors_io.save(os.path.join(OUT, "base.safetensors"), base)
    safetensors_io.save(os.path.join(OUT, "stats.safetensors"), stats_a, {"samples": 4})
    safetensors_io.save(os.path.join(OUT, "stats_general.safetensors"), stats_b, {"samples": 4})
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump({"model_type": "llama", "num_attention_heads": HEADS, "num_key_value_heads": HEADS, "hidden_size": H}, f)

    W = {k: f32(v) for k, v in model.items()}
    B = {k: f32(v) for k, v in base.items()}
    SA = {k: f32(v) for k, v in stats_a.items()}
    SB = {k: f32(v) for k, v in stats_b.items()}
    inv4 = np.float32(1.0 / 4)

    def wanda(k, S):
        a = S[k + "@act_l2"]
        shape = [1, -1] + [1] * (W[k].ndim - 2)
        return np.abs(W[k]) * a.reshape(shape)

    criteria = {
        "magnitude": lambda k: np.abs(W[k]),
        "magnitude-sq": lambda k: W[k] * W[k],
        "delta": lambda k: np.abs(W[k] - B[k]),
        "wanda": lambda k: wanda(k, SA),
        "taylor": lambda k: np.abs(W[k] * SA[k + "@grad"]),
        "fisher": lambda k: SA[k + "@grad_sq"] * inv4,
        "obd": lambda k: np.float32(0.5) * W[k] * W[k] * SA[k + "@grad_sq"] * inv4,
    }
    # The default tensor set: matrices and convolutions that are not embeddings.
    scored = [k for k in W if W[k].ndim >= 2 and "embed" not in k]
    expected = {"scored": scored, "criteria": {}}
    for name, fn in criteria.items():
        per = {}
        for k in scored:
            s = fn(k).astype(np.float32)
            e = {"first": [float(x) if np.isfinite(x) else "nan" for x in s.reshape(-1)[:6]],
                 "tensor": reductions(s, groups(s.shape, "all")),
                 "row": reductions(s, groups(s.shape, "row")),
                 "column": reductions(s, groups(s.shape, "column"))}
            if "q_proj" in k or "k_proj" in k or "v_proj" in k:
                e["head"] = reductions(s, groups(s.shape, "head_rows", HEADS))
            if "o_proj" in k:
                e["head"] = reductions(s, groups(s.shape, "head_cols", HEADS))
            per[k] = e
        # Block: every scored tensor of model.layers.0 together.
        layer = np.concatenate([fn(k).astype(np.float32).reshape(-1) for k in scored if k.startswith("model.layers.0.")])
        expected["criteria"][name] = {"tensors": per, "block_layer0": reductions(layer, [np.arange(layer.size)])}

    # Contrast, ratio form: wanda(A) / (wanda(B) + 1e-8); top-k form per row with top = 0.25.
    def topk_row(v, frac):
        keep = np.zeros(v.shape, dtype=bool)
        rows = v.reshape(v.shape[0], -1)
        kr = keep.reshape(v.shape[0], -1)
        k = int(round(frac * rows.shape[1]))
        for r in range(rows.shape[0]):
            x = np.where(np.isnan(rows[r]), -np.inf, rows[r])
            order = np.lexsort((np.arange(x.size), -x))  # score descending, then index ascending
            kr[r, order[:k]] = True
            kr[r, np.isnan(rows[r])] = False
        return keep
    contrast = {}
    for k in scored:
        a, b = wanda(k, SA).astype(np.float32), wanda(k, SB).astype(np.float32)
        ratio = (a / (b + np.float32(1e-8))).astype(np.float32)
        topk = np.where(topk_row(a, 0.25) & ~topk_row(b, 0.25), a, np.float32(0)).astype(np.float32)
        contrast[k] = {"ratio_sum": float(np.nansum(ratio.astype(np.float64))),
                       "topk_sum": float(np.nansum(topk.astype(np.float64))),
                       "topk_nonzero": int((topk != 0).sum())}
    expected["contrast"] = contrast

    matrix = {}
    for k in scored:
        w = W[k].astype(np.float64)
        fin = w[np.isfinite(w)]
        d = (W[k] - B[k]).astype(np.float64)
        d = d[np.isfinite(d)]
        matrix[k] = {"weight-norm": float(np.sqrt((fin * fin).sum())),
                     "frobenius": float(np.sqrt((fin * fin).sum() / w.size)),
                     "frobenius_delta": float(np.sqrt((d * d).sum() / w.size))}
    expected["matrix"] = matrix
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
