#!/usr/bin/python3
"""Benchmarks for docs/benchmarks.md: ParamScope against baselines measured in the same run.

  run_benchmarks.py CHECKPOINT_DIR [--build build/release] [--threads N]

1. open: paramscope-bench opens the sharded checkpoint (headers only) and builds its tree.
2. stats: `paramscope-cli inspect --stats` vs numpy memmap (numpy_stats.py) vs reading the files
   (the I/O floor), each run twice after a warm-up read so the page cache is warm; wall time,
   throughput of stored bytes, and peak resident memory (ru_maxrss of the child, which counts
   the file pages a process has mapped).
3. importance (issue 3): element-wise magnitude, its L2 per output row (neuron) and an exact
   global top-10% mask, as one `paramscope-cli jobs` run, vs numpy_importance.py doing the same
   (skipped when its all-scores array would not fit in half the RAM) vs the read floor.
4. spectral: paramscope-bench-spectral svd (4096 x 4096) against numpy.linalg.svd.
5. merge (issue 5; not run by default): `paramscope-cli interfere BASE FT1 FT2 FT3` and a TIES
   merge (`paramscope-cli merge ties.yaml`, density 0.2, bf16) vs numpy_merge.py doing each, vs
   reading the four checkpoints (and writing + fsyncing an output of the base's size). The
   fine-tunes come from make_finetunes.py (default CHECKPOINT-ft1..3, or --finetunes A,B,C).
   ParamScope's merged tensors (a handful) and interference sums are checked against numpy's.

6. engine (issue 6; not run by default, needs no checkpoint): time per batch of ParamScope's ONNX
   engine (paramscope-bench-engine) against Debian's torch running the module that was exported
   (torch_engine.py), both on 2 threads (--threads), on the models engine_models.py writes to a
   temporary folder: the digits CNN sample, a small digits transformer, a MobileNetV2-sized CNN.
   Forward (Model::run vs torch.no_grad()) and forward+backward (gradients of sum(seed * output)
   for the input and every parameter); median ms per batch, and the checksums of both sides.

  run_benchmarks.py --only engine [--build DIR] [--threads N]

7. rise (issue 7; not run by default, needs no checkpoint): RISE with 4000 masks of one input
   (paramscope-bench-rise) against the paper's computation in torch (torch_rise.py: masks made
   batch by batch with F.interpolate, the masked copies run under no_grad, saliency as a matrix
   product), both on --threads threads, batches of 64, softmax probability of the top class, on
   the digits CNN sample (s = 4) and the MobileNetV2-sized CNN (s = 7) of engine_models.py. Wall
   ms; the maps' sums agree only statistically (the two sides draw different masks).

  run_benchmarks.py --only rise [--masks N] [--mbv2-masks M]   (default 4000 and 1000: MobileNetV2
   takes 8-9 minutes per side for 4000 masks on the 2-core machine)

8. deeplift (issue 7; not run by default, needs no checkpoint): DeepLIFT-Rescale with a zero
   baseline, attributions of each input's top-class logit to the input, per call of a batch of 1
   and of 16 (paramscope-bench-deeplift, xai::deeplift) against torch_deeplift.py (the rules as
   custom autograd Functions on the module's ReLU, ReLU6 and MaxPool2d: two forward passes and one
   backward), on the digits CNN and the MobileNetV2-sized CNN; median ms of 50 calls (20 at batch
   16; MobileNetV2: 5 and 3), and how far apart the two maps are (relative L2 and max difference).
   On a busy machine run with OMP_WAIT_POLICY=passive: torch's spinning OpenMP threads otherwise
   lose their core to other processes and a 3 ms call takes 140 ms.

  --only open,stats,importance,spectral,merge,engine,rise,deeplift   run some sections
  --cold    importance with a cold page cache: caches are dropped (root: /proc/sys/vm/drop_caches)
            before every run, so the read floor is the disk's and each program reads from disk
"""
import tempfile
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, env=env)
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr.decode()}")
    return p.stdout.decode()


def run_rss(cmd, env=None):
    """Wall seconds, stdout and peak RSS (MiB) of a child."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if status != 0:
        sys.exit(f"{' '.join(cmd)} failed with status {status}")
    return dt, out.decode(), usage.ru_maxrss / 1024.0


def shard_files(folder):
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        return [os.path.join(folder, s) for s in sorted(set(json.load(f)["weight_map"].values()))]


def read_floor(files):
    """Plain sequential reads of every byte in 8 MiB blocks: the I/O floor."""
    t0 = time.perf_counter()
    n = 0
    buf = bytearray(8 << 20)
    for fn in files:
        with open(fn, "rb", buffering=0) as f:
            while True:
                k = f.readinto(buf)
                if not k:
                    break
                n += k
    return time.perf_counter() - t0, n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint", nargs="?", help="not needed by --only engine")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--only", default="open,stats,importance,spectral")
    ap.add_argument("--cold", action="store_true")
    ap.add_argument("--masks", type=int, default=4000, help="rise: masks on the digits CNN (default 4000)")
    ap.add_argument("--mbv2-masks", type=int, default=1000, help="rise: masks on MobileNetV2 (default 1000)")
    ap.add_argument("--finetunes", help="merge: comma-separated fine-tune folders (default CHECKPOINT-ft1..3)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    env = dict(os.environ)
    if a.threads:
        env["PARAMSCOPE_THREADS"] = str(a.threads)
    if "engine" in only:
        bench_engine(a.build, a.threads or 2, env)
        only.discard("engine")
        if not only:
            return
    if only & {"rise", "deeplift"}:
        print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}, cores: {os.cpu_count()},"
              f" OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')}")
    if "deeplift" in only:
        bench_deeplift(a.build, a.threads or 2, env)
        only.discard("deeplift")
    if "rise" in only:
        bench_rise(a.build, a.threads or 2, env, a.masks, a.mbv2_masks)
        only.discard("rise")
    if not only:
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return
    if not a.checkpoint:
        ap.error(f"--only {','.join(sorted(only))} needs a CHECKPOINT_DIR")
    cli = os.path.join(a.build, "app", "paramscope-cli")
    bench = os.path.join(a.build, "tests", "bench", "paramscope-bench")
    files = shard_files(a.checkpoint)
    size = sum(os.path.getsize(f) for f in files)
    print(f"checkpoint: {a.checkpoint} ({len(files)} shards, {size / 1e9:.2f} GB), cores: {os.cpu_count()}")

    if only != {"merge"}:
        read_floor(files)  # warm the page cache (the merge section warms its own four inputs)
    if "open" in only:
        bench_open(bench, a.checkpoint, env)
    if "stats" in only:
        bench_stats(cli, a.checkpoint, files, size, env)
    if "importance" in only:
        bench_importance(cli, a.checkpoint, files, size, env, a.cold)
    if "spectral" in only:
        spectral = os.path.join(a.build, "tests", "bench", "paramscope-bench-spectral")
        print(run([spectral, "svd", "--rows", "4096", "--cols", "4096"], env))
    if "merge" in only:
        fts = a.finetunes.split(",") if a.finetunes else [f"{a.checkpoint.rstrip('/')}-ft{i}" for i in (1, 2, 3)]
        bench_merge(cli, a.checkpoint, fts, env)


def bench_open(bench, checkpoint, env):
    o = json.loads(run([bench, "open", checkpoint, "--repeat", "5"], env))
    print(f"open (headers + tree): min {o['open_seconds_min'] * 1e3:.1f} ms, median {o['open_seconds_median'] * 1e3:.1f} ms;"
          f" {o['tensors']} tensors, {o['blocks']} blocks, {o['parameters'] / 1e9:.2f} B parameters;"
          f" file pages resident after open {o['rss_file_kb'] / 1024:.1f} MiB")


def bench_stats(cli, checkpoint, files, size, env):
    results = {}
    for rep in range(2):
        dt, n = read_floor(files)
        results.setdefault("read", []).append((dt, 0.0))
        dt, out, rss = run_rss(["/usr/bin/python3", os.path.join(HERE, "numpy_stats.py"), checkpoint], env)
        results.setdefault("numpy", []).append((dt, rss))
        dt, out, rss = run_rss([cli, "inspect", "--stats", "--json", checkpoint], env)
        results.setdefault("paramscope", []).append((dt, rss))
    best = {k: min(v) for k, v in results.items()}
    print(f"{'stats of every tensor':28s} {'seconds':>8s} {'GB/s':>7s} {'peak RSS MiB':>13s}")
    for k in ("read", "numpy", "paramscope"):
        dt, rss = best[k]
        print(f"{k:28s} {dt:8.2f} {size / dt / 1e9:7.2f} {rss:13.0f}")
    print(f"paramscope vs numpy: {best['numpy'][0] / best['paramscope'][0]:.1f}x faster, "
          f"{best['numpy'][1] / max(best['paramscope'][1], 1):.1f}x less memory; "
          f"at {best['read'][0] / best['paramscope'][0] * 100:.0f}% of the read floor")



def write_floor(path, nbytes):
    """Writes nbytes of zeros in 8 MiB blocks and fsyncs, as ParamScope's atomic writer does: the
    floor for writing an output of that size."""
    buf = bytes(8 << 20)
    t0 = time.perf_counter()
    with open(path, "wb", buffering=0) as f:
        left = nbytes
        while left > 0:
            left -= f.write(buf[:min(left, len(buf))])
        os.fsync(f.fileno())
    dt = time.perf_counter() - t0
    os.remove(path)
    return dt


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def bench_importance(cli, checkpoint, files, size, env, cold=False):
    with open(os.path.join(checkpoint, "model.safetensors.index.json")) as f:
        index = json.load(f)
    with open(os.path.join(checkpoint, "config.json")) as f:
        config = json.load(f)
    h, i, v, L = (config[k] for k in ("hidden_size", "intermediate_size", "vocab_size", "num_hidden_layers"))
    kv = config.get("num_key_value_heads", config["num_attention_heads"]) * (h // config["num_attention_heads"])
    scored = L * (2 * h * h + 2 * kv * h + 3 * h * i) + (v * h if "lm_head.weight" in index["weight_map"] else 0)
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    with_numpy = scored * 4 < ram / 2
    tmp = tempfile.mkdtemp(prefix="paramscope-bench-")
    job = os.path.join(tmp, "job.yaml")
    with open(job, "w") as f:
        f.write(f"defaults:\n  checkpoint: {checkpoint}\n  criterion: magnitude\njobs:\n"
                "  - command: importance\n    granularity: neuron\n    reduce: l2\n    output: rows.h5\n"
                "  - command: mask\n    top: 10%\n    scope: global\n    output: mask.safetensors\n")
    results = {}
    prepare = drop_caches if cold else (lambda: None)

    def clear_outputs():
        # The previous run's outputs go first, untimed, as the floor's file does: replacing a
        # multi-GB file frees its blocks inside rename() or open(), which is not what is measured.
        for name in ("rows.h5", "mask.safetensors", "numpy-mask.safetensors"):
            if os.path.exists(os.path.join(tmp, name)):
                os.remove(os.path.join(tmp, name))

    for rep in range(1 if cold else 2):
        prepare()
        dt, n = read_floor(files)
        results.setdefault("read", []).append((dt, 0.0))
        # The mask is one byte per scored weight; the row map is small.
        results.setdefault("read + write mask", []).append((dt + write_floor(os.path.join(tmp, "floor.bin"), scored), 0.0))
        if with_numpy:
            clear_outputs()
            prepare()
            dt, out, rss = run_rss(["/usr/bin/python3", os.path.join(HERE, "numpy_importance.py"), checkpoint,
                                    os.path.join(tmp, "numpy-mask.safetensors")], env)
            results.setdefault("numpy", []).append((dt, rss))
        clear_outputs()
        prepare()
        dt, out, rss = run_rss([cli, "jobs", job], env)
        results.setdefault("paramscope", []).append((dt, rss))
    best = {k: min(v) for k, v in results.items()}
    print(f"magnitude + row L2 + global top-10% mask over {scored / 1e9:.2f} B scored weights"
          f" ({'cold' if cold else 'warm'} page cache)")
    print(f"{'':28s} {'seconds':>8s} {'GB/s':>7s} {'peak RSS MiB':>13s}")
    for k in ("read", "read + write mask", "numpy", "paramscope"):
        if k in best:
            dt, rss = best[k]
            print(f"{k:28s} {dt:8.2f} {size / dt / 1e9:7.2f} {rss:13.0f}")
    if not with_numpy:
        print(f"numpy skipped: its array of all scores ({scored * 4 / 2**30:.1f} GiB) does not fit in half the RAM")
    else:
        print(f"paramscope vs numpy: {best['numpy'][0] / best['paramscope'][0]:.1f}x faster, "
              f"{best['numpy'][1] / max(best['paramscope'][1], 1):.1f}x less memory")
    print(f"paramscope at {best['paramscope'][0] / best['read'][0]:.1f}x the read floor, "
          f"{best['paramscope'][0] / best['read + write mask'][0]:.1f}x the read + write floor")
    mask = os.path.join(tmp, "mask.safetensors")
    with open(mask, "rb") as f:
        hn = int.from_bytes(f.read(8), "little")
        meta = json.loads(f.read(hn)).get("__metadata__", {})
    print(f"mask: kept {meta.get('paramscope.mask.kept')} of {meta.get('paramscope.mask.total')},"
          f" threshold {meta.get('paramscope.mask.threshold')}")
    for fn in os.listdir(tmp):
        os.remove(os.path.join(tmp, fn))
    os.rmdir(tmp)


def bench_merge(cli, checkpoint, fts, env):
    for ft in fts:
        if not os.path.isdir(ft):
            sys.exit(f"{ft}: missing; make it with tests/bench/make_finetunes.py {checkpoint} {checkpoint.rstrip('/')}")
    inputs = [shard_files(c) for c in [checkpoint] + fts]
    all_files = [f for fs in inputs for f in fs]
    size = sum(os.path.getsize(f) for f in inputs[0])
    numel = size // 2  # bf16
    # Outputs beside the inputs (the same disk); one multi-GB output exists at a time.
    tmp = tempfile.mkdtemp(prefix="paramscope-bench-merge-", dir=os.path.dirname(os.path.abspath(checkpoint)))
    recipe = os.path.join(tmp, "ties.yaml")
    with open(recipe, "w") as f:
        f.write(f"merge_method: ties\nbase_model: {os.path.abspath(checkpoint)}\nmodels:\n")
        for ft in fts:
            f.write(f"  - model: {os.path.abspath(ft)}\n    parameters: {{weight: 1, density: 0.2}}\n")
        f.write("dtype: bfloat16\n")
    report, merged, np_out = (os.path.join(tmp, n) for n in ("report", "merged", "numpy-merged.safetensors"))
    numpy_merge = ["/usr/bin/python3", os.path.join(HERE, "numpy_merge.py")]
    models = [checkpoint] + fts

    def clear(path):
        subprocess.run(["rm", "-rf", path], check=True)

    read_floor(all_files)  # warm: 4 x the checkpoint may not all stay in the page cache
    results, checks = {}, {}
    for rep in range(2):
        dt, n = read_floor(all_files)
        results.setdefault("read", []).append((dt, 0.0))
        results.setdefault("read + write output", []).append((dt + write_floor(os.path.join(tmp, "floor.bin"), size), 0.0))
        clear(report)
        dt, out, rss = run_rss([cli, "interfere"] + models + ["-o", report, "--json"], env)
        results.setdefault("paramscope interfere", []).append((dt, rss))
        dt, out, rss = run_rss(numpy_merge + ["interfere"] + models + ["--compare", os.path.join(report, "interference.json")], env)
        results.setdefault("numpy interfere", []).append((dt, rss))
        checks["interfere"] = json.loads(out)
        clear(merged)
        dt, out, rss = run_rss([cli, "merge", recipe, "-o", merged], env)
        results.setdefault("paramscope merge ties", []).append((dt, rss))
        if rep == 0:  # untimed: numpy's TIES of a handful of tensors against ParamScope's output
            names = ["model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
                     "model.layers.0.self_attn.k_proj.weight", "model.layers.5.mlp.down_proj.weight",
                     "model.layers.0.input_layernorm.weight", "model.norm.weight", "lm_head.weight"]
            out = run(numpy_merge + ["ties"] + models + ["--compare", merged, "--tensors", ",".join(names)], env)
            checks["ties"] = json.loads(out)["compared"]
        clear(merged)
        dt, out, rss = run_rss(numpy_merge + ["ties"] + models + ["-o", np_out], env)
        results.setdefault("numpy merge ties", []).append((dt, rss))
        clear(np_out)
    best = {k: min(v) for k, v in results.items()}
    print(f"interference + TIES over a base and {len(fts)} fine-tunes: {len(all_files)} files,"
          f" {len(inputs) * size / 1e9:.2f} GB read, {numel / 1e9:.2f} B parameters per model")
    print(f"{'':28s} {'seconds':>8s} {'GB/s in':>8s} {'peak RSS MiB':>13s}")
    for k in ("read", "read + write output", "numpy interfere", "paramscope interfere",
              "numpy merge ties", "paramscope merge ties"):
        dt, rss = best[k]
        print(f"{k:28s} {dt:8.2f} {len(inputs) * size / dt / 1e9:8.2f} {rss if rss else float('nan'):13.0f}")
    for what in ("interfere", "merge ties"):
        ps, npy = best[f"paramscope {what}"], best[f"numpy {what}"]
        print(f"{what}: paramscope {npy[0] / ps[0]:.1f}x faster than numpy, {npy[1] / max(ps[1], 1):.1f}x less memory;"
              f" {ps[0] / best['read'][0]:.1f}x the read floor, {ps[0] / best['read + write output'][0]:.1f}x the read + write floor")
    for c in checks["interfere"]["compare"]:
        print(f"pair {c['pair']}: cosine numpy {c['cosine'][0]:.9f} paramscope {c['cosine'][1]:.9f};"
              f" sign conflicts {c['sign_conflicts'][0]} / {c['both_nonzero'][0]} vs {c['sign_conflicts'][1]} / {c['both_nonzero'][1]};"
              f" top-20% Jaccard {c['jaccard'][0]:.4f} (argpartition ties) vs {c['jaccard'][1]:.4f}")
    for name, c in checks["ties"].items():
        print(f"TIES {name}: {c['differ']} of {c['numel']} differ ({c['differ_fraction'] * 100:.4f} %),"
              f" max |diff| {c['max_abs_diff']:.3g} = {c['max_diff_in_bf16_steps']:.2f} bf16 steps")
    clear(tmp)


# (model, batch, forward+backward too, timed iterations): about 2 minutes on the 2-core machine.
ENGINE_CASES = [("digits-cnn", 1, True, 1000), ("digits-cnn", 64, True, 200), ("digits-cnn", 512, True, 50),
                ("digits-transformer", 1, True, 1000), ("digits-transformer", 64, True, 200),
                ("mbv2", 1, False, 50), ("mbv2", 8, False, 10), ("mbv2", 1, True, 40)]


def rel_diff(x, y):
    return abs(x - y) / max(abs(x), abs(y), 1e-30)


def bench_engine(build, threads, env):
    engine = os.path.join(build, "tests", "bench", "paramscope-bench-engine")
    torch_side = ["/usr/bin/python3", os.path.join(HERE, "torch_engine.py")]
    env = dict(env, PARAMSCOPE_THREADS=str(threads))
    tmp = tempfile.mkdtemp(prefix="paramscope-bench-engine-")
    try:
        print(run(["/usr/bin/python3", os.path.join(HERE, "engine_models.py"), tmp]), end="")
        version = run(torch_side[:1] + ["-c", "import torch; print(torch.__version__)"]).strip()
        print(f"engine vs torch {version}, {threads} threads, cores: {os.cpu_count()}; median ms per batch (min)")
        rows, checks = [], []
        for name, batch, backward, iters in ENGINE_CASES:
            args = [os.path.join(tmp, name + ".onnx"), "--batch", str(batch), "--iters", str(iters)]
            args += ["--backward"] if backward else []
            ours = json.loads(run([engine] + args, env))
            theirs = json.loads(run(torch_side + args + ["--threads", str(threads)], env))
            kinds = [("forward+backward", "forward_backward_ms")] if backward else [("forward", "forward_ms")]
            if backward and not any(r[0] == name and r[1] == batch for r in rows):
                kinds.insert(0, ("forward", "forward_ms"))  # the same run's forward, when not measured alone
            for kind, key in kinds:
                rows.append((name, batch, kind, ours[key], theirs[key]))
            check = [f"output sum {rel_diff(ours['output_sum'], theirs['output_sum']):.1e}",
                     f"|output| {rel_diff(ours['output_abs_sum'], theirs['output_abs_sum']):.1e}"]
            if backward:
                check.append(f"|d input| {rel_diff(ours['input_grad_abs_sum'], theirs['input_grad_abs_sum']):.1e}")
                if ours["parameters"] == theirs["parameters"]:
                    check.append(f"|d params| {rel_diff(ours['param_grad_abs_sum'], theirs['param_grad_abs_sum']):.1e}")
                else:  # the exporter folded BatchNorm into the convolutions: other parameters
                    check.append(f"{ours['parameters']} initializers vs {theirs['parameters']} torch parameters")
            checks.append(f"{name} batch {batch}{' with backward' if backward else ''}: relative difference of "
                          + ", ".join(check))
    finally:
        shutil.rmtree(tmp)
    print(f"{'model':20s} {'batch':>5s} {'pass':17s} {'engine ms':>18s} {'torch ms':>18s} {'torch/engine':>12s}")
    for name, batch, kind, ours, theirs in rows:
        print(f"{name:20s} {batch:5d} {kind:17s} {ours['median']:9.3f} ({ours['min']:6.3f})"
              f" {theirs['median']:9.3f} ({theirs['min']:6.3f}) {theirs['median'] / ours['median']:12.2f}")
    print("agreement (engine vs torch on the same input):")
    for c in checks:
        print("  " + c)


# (model, grid cells, timed repeats), batches of 64 masks. MobileNetV2 takes 115-130 ms per mask
# on each side on the 2-core machine (4000 masks: 8-9 minutes per side), so it runs --mbv2-masks
# (default 1000); the time scales linearly with the masks.
RISE_CASES = [("digits-cnn", 4, 3), ("mbv2", 7, 1)]


def bench_rise(build, threads, env, masks=4000, mbv2_masks=1000):
    ours_cmd = os.path.join(build, "tests", "bench", "paramscope-bench-rise")
    torch_side = ["/usr/bin/python3", os.path.join(HERE, "torch_rise.py")]
    env = dict(env, PARAMSCOPE_THREADS=str(threads))
    tmp = tempfile.mkdtemp(prefix="paramscope-bench-rise-")
    rows = []
    try:
        print(run(["/usr/bin/python3", os.path.join(HERE, "engine_models.py"), tmp]), end="")
        for name, cells, repeat in RISE_CASES:
            n = mbv2_masks if name == "mbv2" else masks
            args = [os.path.join(tmp, name + ".onnx"), "--masks", str(n), "--cells", str(cells), "--batch", "64",
                    "--repeat", str(repeat)]
            ours = json.loads(run([ours_cmd] + args, env))
            theirs = json.loads(run(torch_side + args + ["--threads", str(threads)], env))
            rows.append((name, cells, n, ours, theirs))
    finally:
        shutil.rmtree(tmp)
    print(f"RISE, batch 64, p 0.5, {threads} threads, cores: {os.cpu_count()}; median ms (min) per explanation")
    print(f"{'model':12s} {'s':>2s} {'masks':>5s} {'ParamScope ms':>22s} {'torch ms':>22s} {'torch/ours':>10s}"
          f"  class, probability, map sums (different masks: equal only statistically)")
    for name, cells, n, ours, theirs in rows:
        print(f"{name:12s} {cells:2d} {n:5d} {ours['ms']['median']:11.1f} ({ours['ms']['min']:8.1f})"
              f" {theirs['ms']['median']:11.1f} ({theirs['ms']['min']:8.1f})"
              f" {theirs['ms']['median'] / ours['ms']['median']:10.2f}  {ours['class']} vs {theirs['class']},"
              f" {ours['score']:.6g} vs {theirs['score']:.6g}, {ours['map_sum']:.5g} vs {theirs['map_sum']:.5g}"
              f" ({rel_diff(ours['map_sum'], theirs['map_sum']) * 100:.1f} % apart)")


# (model, batch, calls timed): one xai::deeplift call per batch, zero baseline, top-class logit.
DEEPLIFT_CASES = [("digits-cnn", 1, 50), ("digits-cnn", 16, 20), ("mbv2", 1, 5), ("mbv2", 16, 3)]


def bench_deeplift(build, threads, env):
    import numpy as np
    ours_cmd = os.path.join(build, "tests", "bench", "paramscope-bench-deeplift")
    torch_side = ["/usr/bin/python3", os.path.join(HERE, "torch_deeplift.py")]
    env = dict(env, PARAMSCOPE_THREADS=str(threads))
    tmp = tempfile.mkdtemp(prefix="paramscope-bench-deeplift-")
    rows = []
    try:
        print(run(["/usr/bin/python3", os.path.join(HERE, "engine_models.py"), tmp]), end="")
        for name, batch, repeat in DEEPLIFT_CASES:
            args = [os.path.join(tmp, name + ".onnx"), "--batch", str(batch), "--repeat", str(repeat)]
            ours_map, torch_map = os.path.join(tmp, "ours.f32"), os.path.join(tmp, "torch.f32")
            ours = json.loads(run([ours_cmd] + args + ["--save", ours_map], env))
            theirs = json.loads(run(torch_side + args + ["--threads", str(threads), "--save", torch_map], env))
            a = np.fromfile(ours_map, np.float32).astype(np.float64)
            b = np.fromfile(torch_map, np.float32).astype(np.float64)
            agree = (np.linalg.norm(a - b) / np.linalg.norm(b), np.abs(a - b).max() / np.abs(b).max())
            rows.append((name, batch, ours, theirs, agree))
    finally:
        shutil.rmtree(tmp)
    print(f"DeepLIFT-Rescale, zero baseline, top-class logit, {threads} threads; median ms per call (min), per input")
    print(f"{'model':12s} {'batch':>5s} {'ParamScope ms':>20s} {'torch ms':>20s} {'ms/input ours':>13s}"
          f" {'torch':>9s} {'torch/ours':>10s}  agreement")
    for name, batch, ours, theirs, (l2, mx) in rows:
        same = "same classes" if ours["classes"] == theirs["classes"] else f"classes {ours['classes']} vs {theirs['classes']}"
        print(f"{name:12s} {batch:5d} {ours['ms']['median']:10.3f} ({ours['ms']['min']:7.3f})"
              f" {theirs['ms']['median']:10.3f} ({theirs['ms']['min']:7.3f})"
              f" {ours['ms']['median'] / batch:13.3f} {theirs['ms']['median'] / batch:9.3f}"
              f" {theirs['ms']['median'] / ours['ms']['median']:10.2f}  {same}; maps: relative L2 {l2:.1e},"
              f" max |diff| / max |map| {mx:.1e}; |sum - Δscore| {ours['max_abs_delta']:.1e} vs"
              f" {theirs['max_abs_delta']:.1e}")


if __name__ == "__main__":
    main()
