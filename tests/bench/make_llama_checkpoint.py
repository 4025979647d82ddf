#!/usr/bin/python3
"""Writes a LLaMA-shaped sharded safetensors checkpoint with random bf16 weights, for benchmarks.

  make_llama_checkpoint.py OUT_DIR [--size 7b|1b|tiny] [--shard-gb 5]

7b: LLaMA-7B shapes (32 layers, hidden 4096, MLP 11008, vocab 32000: 6.74 B parameters, 13.5 GB).
1b: TinyLlama-1.1B shapes (22 layers, hidden 2048, MLP 5632, 4 KV heads: 1.1 B, 2.2 GB).
Values are N(0, 0.02) drawn once into a 256 MB pool and read from it at random offsets, so
writing 13 GB takes a minute, not an hour; the bytes are ordinary bf16 weights.
"""
import argparse
import json
import os
import struct

import numpy as np

SIZES = {
    "7b": dict(layers=32, hidden=4096, mlp=11008, vocab=32000, heads=32, kv_heads=32),
    "1b": dict(layers=22, hidden=2048, mlp=5632, vocab=32000, heads=32, kv_heads=4),
    "tiny": dict(layers=2, hidden=64, mlp=176, vocab=256, heads=4, kv_heads=2),
}


def shapes(c):
    h, hd = c["hidden"], c["hidden"] // c["heads"]
    yield "model.embed_tokens.weight", (c["vocab"], h)
    for i in range(c["layers"]):
        p = f"model.layers.{i}."
        yield p + "self_attn.q_proj.weight", (h, h)
        yield p + "self_attn.k_proj.weight", (c["kv_heads"] * hd, h)
        yield p + "self_attn.v_proj.weight", (c["kv_heads"] * hd, h)
        yield p + "self_attn.o_proj.weight", (h, h)
        yield p + "mlp.gate_proj.weight", (c["mlp"], h)
        yield p + "mlp.up_proj.weight", (c["mlp"], h)
        yield p + "mlp.down_proj.weight", (h, c["mlp"])
        yield p + "input_layernorm.weight", (h,)
        yield p + "post_attention_layernorm.weight", (h,)
    yield "model.norm.weight", (h,)
    yield "lm_head.weight", (c["vocab"], h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--size", default="7b", choices=SIZES)
    ap.add_argument("--shard-gb", type=float, default=5.0)
    a = ap.parse_args()
    c = SIZES[a.size]
    os.makedirs(a.out, exist_ok=True)
    rng = np.random.default_rng(0)
    pool = (rng.standard_normal(128 << 20, dtype=np.float32) * 0.02).view(np.uint32)
    pool = ((pool + 0x7FFF + ((pool >> 16) & 1)) >> 16).astype(np.uint16)  # round to bf16
    shards, cur, cur_bytes = [], [], 0
    for name, shape in shapes(c):
        n = int(np.prod(shape)) * 2
        if cur and cur_bytes + n > a.shard_gb * 1e9:
            shards.append(cur)
            cur, cur_bytes = [], 0
        cur.append((name, shape))
        cur_bytes += n
    shards.append(cur)
    weight_map, total = {}, 0
    for k, tensors in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors"
        header, off = {"__metadata__": {"format": "pt"}}, 0
        for name, shape in sorted(tensors, key=lambda t: t[0]):
            n = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
            off += n
            weight_map[name] = fname
        total += off
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(os.path.join(a.out, fname), "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text)
            for name, shape in sorted(tensors, key=lambda t: t[0]):
                left = int(np.prod(shape))
                while left:
                    start = int(rng.integers(0, len(pool) // 2))
                    take = min(left, len(pool) - start)
                    if name.endswith("norm.weight"):
                        f.write(np.full(take, 0x3F80, dtype=np.uint16).tobytes())  # norms start at 1.0
                    else:
                        f.write(pool[start:start + take].tobytes())
                    left -= take
        print(f"{fname}: {len(tensors)} tensors, {off / 1e9:.2f} GB", flush=True)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": c["hidden"],
                   "intermediate_size": c["mlp"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
                   "num_key_value_heads": c["kv_heads"], "vocab_size": c["vocab"], "torch_dtype": "bfloat16"}, f, indent=2)


if __name__ == "__main__":
    main()
