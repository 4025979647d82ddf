#!/usr/bin/python3
"""Regenerates ParamScope's bundled samples (run with Debian's python3 + python3-torch,
python3-sklearn, python3-onnx; takes about two minutes on 2 cores).

  digits-cnn/   a small CNN trained on scikit-learn's 8x8 digits:
                model.safetensors, model.pt (torch.save zip), model.onnx, config.json,
                inputs.npy / labels.npy (16 test images), test.npz (the 297 test images of
                config.json's accuracy), calibration.npz (128 training images), both with x and labels
  tiny-llama/   a GPT-style decoder in Hugging Face LLaMA layout trained on licence texts as a
                byte-level language model, bf16, in two safetensors shards with
                model.safetensors.index.json and config.json
  tiny-llama-stats/
                calibration statistics of tiny-llama for the data-driven criteria (Wanda,
                Taylor, Fisher, OBD, contrast; layout in docs/statistics.md): task.safetensors
                on licence text it was trained on, general.safetensors on other text
  digits-merge/ models to merge (docs/merging.md): base/ (the digits CNN trained briefly on all
                digits), ft-a/ and ft-b/ (the base fine-tuned on digits 0-4 and on 5-9), each a
                model.safetensors + config.json; mergekit-style recipes (linear, task_arithmetic,
                ties, dare_ties); inputs.npy / labels.npy (the 297 held-out test images).
                evaluate_digits.py measures them and the merges (expected_accuracy.json)
  digits-transformer/
                a pre-norm transformer classifier of the same digits (the rows of an image are its
                8 tokens; the digits-cnn split): model.onnx (opset 17), model.safetensors,
                config.json, test.npz and calibration.npz as digits-cnn's (deflated), logits16.npy
                (torch's logits on the first 16 test images)

Usage: make_samples.py [digits] [digits-data] [llama] [stats] [merge] [transformer]  (default: all;
digits-data only rewrites digits-cnn's test.npz and calibration.npz).

Everything is seeded; reruns give the same files on the same torch build.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
          torch.int32: "I32", torch.uint8: "U8", torch.int8: "I8", torch.bool: "BOOL", torch.float64: "F64"}

# The reference implementation's Dtype enum order.
REFERENCE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64",
                   "I64", "U64"]


def save_safetensors(path, tensors, metadata=None):
    """Writes the safetensors layout exactly as the reference writer does: tensors sorted by
    descending position in its Dtype enum (alignment), then name; header padded with spaces."""
    items = sorted(tensors.items(), key=lambda kv: (-REFERENCE_ORDER.index(DTYPES[kv[1].dtype]), kv[0]))
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in items:
        t = t.detach().contiguous().cpu()
        raw = t.view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


# ----------------------------------------------------------------------------- digits CNN
class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def make_digits():
    from sklearn.datasets import load_digits
    torch.manual_seed(0)
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.int64)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    test, train = perm[:297], perm[297:]
    model = DigitsCNN()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for epoch in range(12):
        model.train()
        order = train[torch.randperm(len(train))]
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        acc = (model(x[test]).argmax(1) == y[test]).float().mean().item()
    out = os.path.join(HERE, "digits-cnn")
    os.makedirs(out, exist_ok=True)
    sd = model.state_dict()
    save_safetensors(os.path.join(out, "model.safetensors"), sd, {"format": "pt", "test_accuracy": f"{acc:.4f}"})
    torch.save(sd, os.path.join(out, "model.pt"))
    torch.onnx.export(model, x[:1], os.path.join(out, "model.onnx"), input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}}, opset_version=13)
    np.save(os.path.join(out, "inputs.npy"), x[test[:16]].numpy())
    np.save(os.path.join(out, "labels.npy"), y[test[:16]].numpy())
    save_digits_splits()
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architecture": "DigitsCNN", "dataset": "sklearn.datasets.load_digits", "input_shape": [1, 1, 8, 8],
                   "num_classes": 10, "test_accuracy": round(acc, 4)}, f, indent=2)
        f.write("\n")
    print(f"digits-cnn: {sum(t.numel() for t in sd.values())} values, test accuracy {acc:.3f}")


# ----------------------------------------------------------------------------- tiny LLaMA
CFG = dict(vocab_size=256, hidden_size=64, intermediate_size=176, num_hidden_layers=4, num_attention_heads=4,
           num_key_value_heads=2, max_position_embeddings=128, rms_norm_eps=1e-5, rope_theta=10000.0)


class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.eps = eps

    def forward(self, x):
        return self.weight * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)


def rope(x, theta):
    # Hugging Face's rotate_half convention.
    t, d = x.shape[-2], x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2).float() / d))
    ang = torch.outer(torch.arange(t).float(), inv)
    cos, sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, nh, nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
        self.nh, self.nkv, self.hd, self.theta = nh, nkv, h // nh, c["rope_theta"]
        self.q_proj = nn.Linear(h, nh * self.hd, bias=False)
        self.k_proj = nn.Linear(h, nkv * self.hd, bias=False)
        self.v_proj = nn.Linear(h, nkv * self.hd, bias=False)
        self.o_proj = nn.Linear(nh * self.hd, h, bias=False)

    def forward(self, x):
        b, t, _ = x.shape
        q = rope(self.q_proj(x).view(b, t, self.nh, self.hd).transpose(1, 2), self.theta)
        k = rope(self.k_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2), self.theta)
        v = self.v_proj(x).view(b, t, self.nkv, self.hd).transpose(1, 2)
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        att = att.masked_fill(torch.triu(torch.ones(t, t, dtype=torch.bool), 1), float("-inf")).softmax(-1)
        return self.o_proj((att @ v).transpose(1, 2).reshape(b, t, -1))


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.up_proj = nn.Linear(c["hidden_size"], c["intermediate_size"], bias=False)
        self.down_proj = nn.Linear(c["intermediate_size"], c["hidden_size"], bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn, self.mlp = Attention(c), MLP(c)
        self.input_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.post_attention_layernorm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])

    def forward(self, x):
        x = x + self.self_attn(self.input_layernorm(x))
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = nn.ModuleList(Layer(c) for _ in range(c["num_hidden_layers"]))
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])


class TinyLlama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.model = Body(c)
        self.lm_head = nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)

    def forward(self, ids):
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x)
        return self.lm_head(self.model.norm(x))


def make_llama():
    torch.manual_seed(0)
    text = b""
    for name in ("GPL-3", "Apache-2.0", "MPL-2.0"):
        with open(os.path.join("/usr/share/common-licenses", name), "rb") as f:
            text += f.read()
    data = torch.tensor(list(text), dtype=torch.int64)
    model = TinyLlama(CFG)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    seq, batch = 64, 32
    gen = torch.Generator().manual_seed(1)
    for step in range(400):
        starts = torch.randint(0, len(data) - seq - 1, (batch,), generator=gen)
        ids = torch.stack([data[s:s + seq + 1] for s in starts])
        loss = F.cross_entropy(model(ids[:, :-1]).reshape(-1, CFG["vocab_size"]), ids[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"tiny-llama: final training loss {loss.item():.3f} nats/byte")
    out = os.path.join(HERE, "tiny-llama")
    os.makedirs(out, exist_ok=True)
    sd = {k: v.to(torch.bfloat16) for k, v in model.state_dict().items()}
    # Two shards split by layer, as transformers' save_pretrained(max_shard_size=...) does.
    names = list(sd)
    first = [n for n in names if n.startswith("model.embed_tokens") or any(
        n.startswith(f"model.layers.{i}.") for i in range(CFG["num_hidden_layers"] // 2))]
    shards = {"model-00001-of-00002.safetensors": first,
              "model-00002-of-00002.safetensors": [n for n in names if n not in first]}
    weight_map, total = {}, 0
    for fname, keys in shards.items():
        save_safetensors(os.path.join(out, fname), {k: sd[k] for k in keys}, {"format": "pt"})
        for k in keys:
            weight_map[k] = fname
            total += sd[k].numel() * sd[k].element_size()
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
        f.write("\n")
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
              "torch_dtype": "bfloat16", "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2, **CFG}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    print(f"tiny-llama: {sum(t.numel() for t in sd.values())} parameters in 2 shards")


def load_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    types = {v: k for k, v in DTYPES.items()}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[b:e]), dtype=types[info["dtype"]]).reshape(info["shape"])
    return out


def gather_stats(model, data, batches, seq, seed):
    """The statistics of docs/statistics.md over `batches` batches of byte sequences."""
    act, stats = {}, {}
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    hooks = [m.register_forward_hook(
        lambda m, i, o, n=n: act.__setitem__(n, act.get(n, 0) + i[0].detach().pow(2).flatten(0, -2).sum(0)))
        for n, m in linears.items()]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(batches):
        starts = torch.randint(0, len(data) - seq - 1, (8,), generator=gen)
        ids = torch.stack([data[s:s + seq + 1] for s in starts])
        model.zero_grad()
        F.cross_entropy(model(ids[:, :-1]).reshape(-1, CFG["vocab_size"]), ids[:, 1:].reshape(-1)).backward()
        for n in linears:
            g = model.get_parameter(n + ".weight").grad
            stats[n + ".weight@grad"] = stats.get(n + ".weight@grad", 0) + g
            stats[n + ".weight@grad_sq"] = stats.get(n + ".weight@grad_sq", 0) + g * g
    for h in hooks:
        h.remove()
    stats.update({n + ".weight@act_l2": v.sqrt() for n, v in act.items()})
    # Gradients in bf16 keep the files small; activation norms stay float32.
    return {k: v.to(torch.bfloat16) if "@grad" in k else v.float() for k, v in stats.items()}


def make_llama_stats():
    src = os.path.join(HERE, "tiny-llama")
    sd = {}
    for fname in sorted(os.listdir(src)):
        if fname.endswith(".safetensors"):
            sd.update({k: v.float() for k, v in load_safetensors(os.path.join(src, fname)).items()})
    model = TinyLlama(CFG)
    model.load_state_dict(sd)
    out = os.path.join(HERE, "tiny-llama-stats")
    os.makedirs(out, exist_ok=True)
    sets = {"task": ("GPL-3", "Apache-2.0", "MPL-2.0"), "general": ("Artistic", "GFDL-1.3", "LGPL-2.1")}
    for seed, (name, files) in enumerate(sets.items()):
        text = b"".join(open(os.path.join("/usr/share/common-licenses", f), "rb").read() for f in files)
        data = torch.tensor(list(text), dtype=torch.int64)
        batches = 16
        stats = gather_stats(model, data, batches, 64, 10 + seed)
        save_safetensors(os.path.join(out, name + ".safetensors"), stats,
                         {"samples": str(batches), "source": "+".join(files), "checkpoint": "tiny-llama"})
        print(f"tiny-llama-stats/{name}.safetensors: {len(stats)} tensors over {batches} batches of {'+'.join(files)}")


# ----------------------------------------------------------------------------- digits to merge
MERGE_SUBSETS = {"ft-a": (0, 1, 2, 3, 4), "ft-b": (5, 6, 7, 8, 9)}

# The recipes' parameters were chosen with `evaluate_digits.py --sweep` (docs/merging.md).
MERGE_RECIPES = {
    "linear.yaml": """# Model soup: the plain average of the two fine-tunes (the base is not listed).
merge_method: linear
models:
  - model: ft-a
    parameters: {weight: 0.5}
  - model: ft-b
    parameters: {weight: 0.5}
dtype: float32
""",
    "task_arithmetic.yaml": """# base + lambda * (tau_a + tau_b); a small lambda because the two task vectors add up.
merge_method: task_arithmetic
base_model: base
models:
  - model: ft-a
    parameters: {weight: 1.0}
  - model: ft-b
    parameters: {weight: 1.0}
parameters:
  lambda: 0.2
dtype: float32
""",
    "ties.yaml": """# TIES: keep each task vector's largest 10 %, elect the sign by mass, disjoint mean.
merge_method: ties
base_model: base
models:
  - model: ft-a
    parameters: {weight: 1.0, density: 0.1}
  - model: ft-b
    parameters: {weight: 1.0, density: 0.1}
parameters:
  normalize: true
  lambda: 1.0
dtype: float32
""",
    "dare_ties.yaml": """# DARE + TIES: keep a random half of each task vector, rescaled by 1/0.5, then TIES' election.
# The drop is seeded on the command line, like mergekit's --random-seed:
#   paramscope-cli merge dare_ties.yaml -o merged --seed 1
merge_method: dare_ties
base_model: base
models:
  - model: ft-a
    parameters: {weight: 1.0, density: 0.5}
  - model: ft-b
    parameters: {weight: 1.0, density: 0.5}
parameters:
  lambda: 0.3
dtype: float32
""",
}


def save_digits_splits(folder="digits-cnn", savez=np.savez):
    """<folder>/test.npz (the 297 test images the accuracy in config.json is measured on) and
    calibration.npz (the first 128 training images), each with members x and labels."""
    x, y, train, test = digits_data()
    out = os.path.join(HERE, folder)
    savez(os.path.join(out, "test.npz"), x=x[test].numpy(), labels=y[test].numpy())
    savez(os.path.join(out, "calibration.npz"), x=x[train[:128]].numpy(), labels=y[train[:128]].numpy())


def digits_data():
    """sklearn's digits with the digits-cnn sample's split: 297 test images, the rest to train."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(d.target, dtype=torch.int64)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x, y, perm[297:], perm[:297]


def train_digits(model, x, y, idx, batches, lr, seed, freeze_bn):
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    done = 0
    while done < batches:
        model.train()
        if freeze_bn:  # keep the base's running statistics: a 5-class subset would shift them
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        order = idx[torch.randperm(len(idx), generator=gen)]
        for i in range(0, len(order), 64):
            if done == batches:
                break
            b = order[i:i + 64]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
    model.eval()
    return model


def make_digits_merge():
    import copy
    x, y, train, test = digits_data()
    out = os.path.join(HERE, "digits-merge")
    torch.manual_seed(100)
    # A third of an epoch: a base that knows every digit a little.
    base = train_digits(DigitsCNN(), x, y, train, 8, 3e-3, 101, False)
    models = {"base": (base, "all digits, 8 batches of 64 (a third of an epoch), Adam 3e-3")}
    for k, (name, digits) in enumerate(MERGE_SUBSETS.items()):
        sub = train[(y[train].unsqueeze(1) == torch.tensor(digits)).any(1)]
        ft = train_digits(copy.deepcopy(base), x, y, sub, 3 * ((len(sub) + 63) // 64), 1e-3, 102 + k, True)
        models[name] = (ft, f"base fine-tuned on digits {digits[0]}-{digits[-1]}: 3 epochs of {len(sub)} images, "
                            "Adam 1e-3, BatchNorm statistics frozen")
    with torch.no_grad():
        for name, (model, how) in models.items():
            pred = model(x[test]).argmax(1)
            acc = (pred == y[test]).float().mean().item()
            folder = os.path.join(out, name)
            os.makedirs(folder, exist_ok=True)
            save_safetensors(os.path.join(folder, "model.safetensors"), model.state_dict(),
                             {"format": "pt", "trained": how})
            with open(os.path.join(folder, "config.json"), "w") as f:
                json.dump({"architecture": "DigitsCNN", "dataset": "sklearn.datasets.load_digits",
                           "input_shape": [1, 1, 8, 8], "num_classes": 10, "trained": how,
                           "test_accuracy": round(acc, 4)}, f, indent=2)
                f.write("\n")
            print(f"digits-merge/{name}: test accuracy {acc:.3f} ({how})")
    np.save(os.path.join(out, "inputs.npy"), x[test].numpy())
    np.save(os.path.join(out, "labels.npy"), y[test].numpy())
    for fname, text in MERGE_RECIPES.items():
        with open(os.path.join(out, fname), "w") as f:
            f.write(text)


# ----------------------------------------------------------------------------- digits transformer
TRANSFORMER = dict(tokens=8, token_features=8, d_model=32, heads=4, layers=2, mlp_hidden=64, num_classes=10)


class EncoderLayer(nn.Module):
    """Pre-norm encoder layer written out, so that the export shows the attention's MatMuls."""

    def __init__(self, d, heads, hidden):
        super().__init__()
        self.heads, self.hd = heads, d // heads
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.out_proj = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def attention(self, x):
        b, t, d = x.shape
        q, k, v = (f(x).reshape(b, t, self.heads, self.hd).transpose(1, 2) for f in (self.q, self.k, self.v))
        att = (q @ k.transpose(-1, -2) / math.sqrt(self.hd)).softmax(-1)
        return self.out_proj((att @ v).transpose(1, 2).reshape(b, t, d))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class DigitsTransformer(nn.Module):
    """Input [batch, 1, 8, 8] like DigitsCNN; the image's rows are the tokens."""

    def __init__(self, c=TRANSFORMER):
        super().__init__()
        self.tokens, d = c["tokens"], c["d_model"]
        self.embed = nn.Linear(c["token_features"], d)
        # timm's name: the default importance set skips it as an embedding (it sees no activations).
        self.pos_embed = nn.Parameter(torch.randn(1, c["tokens"], d) * 0.02)
        self.layers = nn.ModuleList(EncoderLayer(d, c["heads"], c["mlp_hidden"]) for _ in range(c["layers"]))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c["num_classes"])

    def forward(self, x):
        x = self.embed(x.reshape(-1, self.tokens, x.shape[-1])) + self.pos_embed
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(1))


def make_transformer():
    x, y, train, test = digits_data()
    torch.manual_seed(300)
    model = DigitsTransformer()
    epochs, per_epoch = 60, (len(train) + 63) // 64
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * per_epoch)
    gen = torch.Generator().manual_seed(301)
    for epoch in range(epochs):
        model.train()
        order = train[torch.randperm(len(train), generator=gen)]
        for i in range(0, len(order), 64):
            b = order[i:i + 64]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        logits = model(x[test])
    acc = (logits.argmax(1) == y[test]).float().mean().item()
    out = os.path.join(HERE, "digits-transformer")
    os.makedirs(out, exist_ok=True)
    sd = model.state_dict()
    save_safetensors(os.path.join(out, "model.safetensors"), sd, {"format": "pt", "test_accuracy": f"{acc:.4f}"})
    torch.onnx.export(model, x[test[:2]], os.path.join(out, "model.onnx"), input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      opset_version=17)
    np.save(os.path.join(out, "logits16.npy"), logits[:16].numpy())
    # Deflated: the digits' 17 grey levels compress well, which keeps the sample small.
    save_digits_splits("digits-transformer", np.savez_compressed)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"architecture": "DigitsTransformer", "dataset": "sklearn.datasets.load_digits",
                   "input_shape": [1, 1, 8, 8], **TRANSFORMER, "norm": "pre-LayerNorm", "activation": "gelu",
                   "test_accuracy": round(acc, 4)}, f, indent=2)
        f.write("\n")
    print(f"digits-transformer: {sum(t.numel() for t in sd.values())} values, final training loss "
          f"{loss.item():.3f}, test accuracy {acc:.4f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    which = sys.argv[1:] or ["digits", "llama", "stats", "merge", "transformer"]
    if "digits" in which:
        make_digits()
    elif "digits-data" in which:
        save_digits_splits()
    if "llama" in which:
        make_llama()
    if "stats" in which:
        make_llama_stats()
    if "merge" in which:
        make_digits_merge()
    if "transformer" in which:
        make_transformer()
