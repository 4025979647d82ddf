#!/usr/bin/python3
"""Writes the GUI tests' fixtures into tests/data/gui/ (run with Debian's /usr/bin/python3 + numpy).

tiny_llama.safetensors  a 2-layer LLaMA in Hugging Face naming (GQA: k/v project to 4 of 8 dims),
                        F16 projections and F32 norms, laid out as the safetensors library does
                        (by dtype, widest first, then by name), so the file order is not model order.
tiny_llama_hf/          the same LLaMA as a Hugging Face model folder (model.safetensors + config.json).
tiny_mlp.safetensors    two dense layers "layers.0" / "layers.1" (a chart with different bars).
broken.safetensors      a header size that points past the end of the file (must give an Error).
*.expected.json         what the tree must show: blocks in hierarchy order, their tensors, counts.

numpy has no safetensors writer on Debian 12, so the format is written here from its spec:
u64 little-endian header size, JSON header {name: {dtype, shape, data_offsets}}, raw data.
"""
import json
import os
import struct

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "gui")
DTYPES = {np.float16: "F16", np.float32: "F32"}
# safetensors' Dtype enum order; the reference writer sorts by it, descending.
DTYPE_RANK = {"F16": 9, "F32": 11}


def write_safetensors(path, tensors):
    entries = sorted(tensors.items(), key=lambda kv: (-DTYPE_RANK[DTYPES[kv[1].dtype.type]], kv[0]))
    header, blobs, offset = {}, [], 0
    for name, arr in entries:
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": DTYPES[arr.dtype.type], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the reference pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def tiny_llama(rng):
    vocab, hidden, kv, inter = 32, 8, 4, 16

    def w(*shape, dtype=np.float16):
        return rng.standard_normal(shape).astype(dtype)

    t = {"model.embed_tokens.weight": w(vocab, hidden)}
    for i in range(2):
        p = f"model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = w(hidden, hidden)
        t[p + "self_attn.k_proj.weight"] = w(kv, hidden)
        t[p + "self_attn.v_proj.weight"] = w(kv, hidden)
        t[p + "self_attn.o_proj.weight"] = w(hidden, hidden)
        t[p + "mlp.gate_proj.weight"] = w(inter, hidden)
        t[p + "mlp.up_proj.weight"] = w(inter, hidden)
        t[p + "mlp.down_proj.weight"] = w(hidden, inter)
        t[p + "input_layernorm.weight"] = np.ones(hidden, np.float32)
        t[p + "post_attention_layernorm.weight"] = np.ones(hidden, np.float32)
    t["model.norm.weight"] = np.ones(hidden, np.float32)
    t["lm_head.weight"] = w(vocab, hidden)
    return t


def tiny_mlp(rng):
    return {
        "layers.0.weight": rng.standard_normal((16, 8)).astype(np.float32),
        "layers.0.bias": np.zeros(16, np.float32),
        "layers.1.weight": rng.standard_normal((4, 16)).astype(np.float32),
        "layers.1.bias": np.zeros(4, np.float32),
    }


def expected(tensors, blocks):
    """blocks: [(block name, [tensor names in file order])] in the hierarchy order the GUI shows."""
    out = {"tensors": len(tensors), "parameters": int(sum(a.size for a in tensors.values())), "blocks": []}
    for name, members in blocks:
        out["blocks"].append({
            "name": name,
            "parameters": int(sum(tensors[m].size for m in members)),
            "tensors": [{"name": m, "shape": list(tensors[m].shape), "dtype": DTYPES[tensors[m].dtype.type]}
                        for m in members],
        })
    return out


def file_order(tensors):
    return [n for n, _ in sorted(tensors.items(), key=lambda kv: (-DTYPE_RANK[DTYPES[kv[1].dtype.type]], kv[0]))]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)

    llama = tiny_llama(rng)
    write_safetensors(os.path.join(OUT, "tiny_llama.safetensors"), llama)
    order = file_order(llama)
    # Hierarchy order: embeddings, numbered layers, then the final norm and head in file order
    # (F32 tensors come first in the file, so model.norm.weight precedes lm_head.weight).
    names = ["model.embed_tokens", "model.layers.0", "model.layers.1", "model.norm", "lm_head"]
    blocks = [(b, [n for n in order if n.startswith(b + ".")]) for b in names]
    with open(os.path.join(OUT, "tiny_llama.expected.json"), "w") as f:
        json.dump(expected(llama, blocks), f, indent=1)
        f.write("\n")

    hf = os.path.join(OUT, "tiny_llama_hf")
    os.makedirs(hf, exist_ok=True)
    write_safetensors(os.path.join(hf, "model.safetensors"), llama)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32, "hidden_size": 8,
              "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1,
              "torch_dtype": "float16"}
    with open(os.path.join(hf, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")

    mlp = tiny_mlp(rng)
    write_safetensors(os.path.join(OUT, "tiny_mlp.safetensors"), mlp)
    order = file_order(mlp)
    blocks = [(b, [n for n in order if n.startswith(b + ".")]) for b in ["layers.0", "layers.1"]]
    with open(os.path.join(OUT, "tiny_mlp.expected.json"), "w") as f:
        json.dump(expected(mlp, blocks), f, indent=1)
        f.write("\n")

    with open(os.path.join(OUT, "broken.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", 4096) + b'{"a":')


if __name__ == "__main__":
    main()
