#!/usr/bin/python3
"""Benchmarks for docs/benchmarks.md: ParamScope against baselines measured in the same run.

  run_benchmarks.py CHECKPOINT_DIR [--build build/release] [--threads N]

1. open: paramscope-bench opens the sharded checkpoint (headers only) and builds its tree.
2. stats: `paramscope-cli inspect --stats` vs numpy memmap (numpy_stats.py) vs reading the files
   (the I/O floor), each run twice after a warm-up read so the page cache is warm; wall time,
   throughput of stored bytes, and peak resident memory (ru_maxrss of the child, which counts
   the file pages a process has mapped).
"""
import argparse
import json
import os
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
    ap.add_argument("checkpoint")
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    cli = os.path.join(a.build, "app", "paramscope-cli")
    bench = os.path.join(a.build, "tests", "bench", "paramscope-bench")
    files = shard_files(a.checkpoint)
    size = sum(os.path.getsize(f) for f in files)
    env = dict(os.environ)
    if a.threads:
        env["PARAMSCOPE_THREADS"] = str(a.threads)
    print(f"checkpoint: {a.checkpoint} ({len(files)} shards, {size / 1e9:.2f} GB), cores: {os.cpu_count()}")

    o = json.loads(run([bench, "open", a.checkpoint, "--repeat", "5"], env))
    print(f"open (headers + tree): min {o['open_seconds_min'] * 1e3:.1f} ms, median {o['open_seconds_median'] * 1e3:.1f} ms;"
          f" {o['tensors']} tensors, {o['blocks']} blocks, {o['parameters'] / 1e9:.2f} B parameters;"
          f" file pages resident after open {o['rss_file_kb'] / 1024:.1f} MiB")

    read_floor(files)  # warm the page cache
    results = {}
    for rep in range(2):
        dt, n = read_floor(files)
        results.setdefault("read", []).append((dt, 0.0))
        dt, out, rss = run_rss(["/usr/bin/python3", os.path.join(HERE, "numpy_stats.py"), a.checkpoint], env)
        results.setdefault("numpy", []).append((dt, rss))
        dt, out, rss = run_rss([cli, "inspect", "--stats", "--json", a.checkpoint], env)
        results.setdefault("paramscope", []).append((dt, rss))
    best = {k: min(v) for k, v in results.items()}
    print(f"{'stats of every tensor':28s} {'seconds':>8s} {'GB/s':>7s} {'peak RSS MiB':>13s}")
    for k in ("read", "numpy", "paramscope"):
        dt, rss = best[k]
        print(f"{k:28s} {dt:8.2f} {size / dt / 1e9:7.2f} {rss:13.0f}")
    print(f"paramscope vs numpy: {best['numpy'][0] / best['paramscope'][0]:.1f}x faster, "
          f"{best['numpy'][1] / max(best['paramscope'][1], 1):.1f}x less memory; "
          f"at {best['read'][0] / best['paramscope'][0] * 100:.0f}% of the read floor")


if __name__ == "__main__":
    main()
