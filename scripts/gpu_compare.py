"""CPU vs GPU with Ray 2.60 on one host: Ray Train, Ray Serve and fractional GPUs.

The GPU-shaped parts of lessons 07 (Ray Train), 09 (Ray Serve) and 12 (the capstone), measured on a
real GPU beside the same work on CPUs, with a model big enough for the GPU to matter:

- Train: a ``TorchTrainer`` on the shipped digits data (``datasets/digits/train``, 1,500 real
  rows, repeated with a little noise), fed through Ray Data, with ``ScalingConfig(use_gpu=False)``
  and then ``use_gpu=True``, same epochs and batch size: Ray Train start-up seconds, per-epoch
  seconds (median after the first), samples/s, and the same epoch with the batches already on
  the device (the model's own speed, without the data pipeline).
- Serve: the same model in a deployment on CPUs and one with ``ray_actor_options={"num_gpus": 1}``,
  called over HTTP on 127.0.0.1 with batches of images per request: p50/p95 latency, requests/s.
- Fractional GPUs: 4 actors with ``num_gpus=0.25``; what each sees (``ray.get_gpu_ids()``,
  ``CUDA_VISIBLE_DEVICES``, ``torch.cuda.current_device()``) and the memory each allocates.

The model: the 8x8 image upscaled to 32x32 inside the model (bilinear), then an MLP of three wide
hidden layers (4,096 units in full mode), 10 classes; fp32 on both devices.

Self-contained: needs ray (with Train and Serve's dependencies), torch, numpy, pandas and pyarrow,
not raykit. Everything listens on 127.0.0.1. Usage::

    python scripts/gpu_compare.py                    # full sizes, CPU and GPU (needs a GPU)
    python scripts/gpu_compare.py --small --cpu-only # tiny sizes, CPU parts only (any host)

Prints a results table and writes it as JSON to ``$OUT/gpu_compare.json`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import platform
import signal
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

# Before Ray is imported: nodes, workers and proxies keep 127.0.0.1 (Ray's single-host switch).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_TMPDIR", "/tmp")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
os.environ.setdefault("RAY_DATA_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import ray  # noqa: E402
import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
T0 = time.time()


def say(*parts) -> None:
    print(f"[{time.time() - T0:7.1f}s]", *parts, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------
# data and model


def load_digits(copies: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The shipped digits train split (64 pixels 0..16, label), repeated ``copies`` times; every
    copy after the first moves each pixel by a rounded N(0, 0.75), clipped to 0..16 (as raykit's
    generate_rows). Returns pixels / 16 as float32 (N, 64) and labels int64 (N,)."""
    root = Path(os.environ.get("RAYKIT_DATASETS") or REPO / "datasets")
    files = sorted(glob.glob(str(root / "digits" / "train" / "*.parquet")))
    if not files:
        sys.exit(f"no digits parquet files under {root}/digits/train")
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    pixels = np.stack([np.asarray(p, dtype=np.float32) for p in frame["pixels"]])
    labels = frame["label"].to_numpy().astype(np.int64)
    rng = np.random.default_rng(seed)
    xs, ys = [pixels], [labels]
    for _ in range(copies - 1):
        noise = np.rint(rng.normal(0.0, 0.75, size=pixels.shape)).astype(np.float32)
        xs.append(np.clip(pixels + noise, 0, 16))
        ys.append(labels)
    return np.concatenate(xs) / 16.0, np.concatenate(ys)


def build_model(hidden: int, layers: int, side: int) -> torch.nn.Module:
    """8x8 image (64 values) -> upscaled to side x side -> MLP of ``layers`` hidden layers -> 10."""
    body: list[torch.nn.Module] = [
        torch.nn.Unflatten(1, (1, 8, 8)),
        torch.nn.Upsample(size=(side, side), mode="bilinear", align_corners=False),
        torch.nn.Flatten(),
    ]
    width = side * side
    for _ in range(layers):
        body += [torch.nn.Linear(width, hidden), torch.nn.ReLU()]
        width = hidden
    body.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*body)


def model_flops_per_sample(hidden: int, layers: int, side: int) -> float:
    """Multiply-adds of one forward pass x 2 (FLOPs); training is about 3x that."""
    widths = [side * side] + [hidden] * layers + [10]
    return 2.0 * sum(a * b for a, b in zip(widths, widths[1:], strict=False))


# ----------------------------------------------------------------------------------------------
# (a) Ray Train


def train_loop(config: dict) -> None:
    """One Ray Train worker: epochs over its shard (Ray Data), timed; then one epoch over the same
    batches held on the device (the model's own speed)."""
    import time as _time

    import ray.train
    import ray.train.torch
    import torch as _torch

    started = _time.time()
    _torch.set_num_threads(config["threads"])
    _torch.manual_seed(0)
    device = ray.train.torch.get_device()
    model = ray.train.torch.prepare_model(
        build_model(config["hidden"], config["layers"], config["side"])
    )
    optimizer = _torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=0.9)
    shard = ray.train.get_dataset_shard("train")
    dtypes = {"x": _torch.float32, "y": _torch.int64}

    def sync():
        if device.type == "cuda":
            _torch.cuda.synchronize(device)

    def step(x, y):
        optimizer.zero_grad(set_to_none=True)
        loss = _torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    epoch_s, samples, losses = [], 0, []
    loop_began = _time.perf_counter()
    for epoch in range(config["epochs"]):
        sync()
        t = _time.perf_counter()
        n, loss = 0, None
        for batch in shard.iter_torch_batches(
            batch_size=config["batch_size"], dtypes=dtypes, device=device, prefetch_batches=4
        ):
            loss = step(batch["x"], batch["y"])
            n += len(batch["y"])
        sync()
        epoch_s.append(_time.perf_counter() - t)
        samples = n
        losses.append(float(loss.item()) if loss is not None else float("nan"))
        # On CPUs, stop after two epochs once the time budget is spent (a bound on the run).
        if epoch >= 1 and _time.perf_counter() - loop_began > config["max_seconds"]:
            break

    # The same epoch with every batch already on the device: no Ray Data in the timing.
    cached = [
        (b["x"], b["y"])
        for b in shard.iter_torch_batches(
            batch_size=config["batch_size"], dtypes=dtypes, device=device
        )
    ]
    step(*cached[0])  # warm
    sync()
    t = _time.perf_counter()
    for x, y in cached:
        step(x, y)
    sync()
    cached_s = _time.perf_counter() - t

    metrics = {
        "worker_started_at": started,
        "device": str(device),
        "device_name": (
            _torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
        ),
        "threads": _torch.get_num_threads(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "torch_cuda_available": _torch.cuda.is_available(),
        "epoch_s": epoch_s,
        "samples_per_epoch": samples,
        "losses": losses,
        "cached_epoch_s": cached_s,
        "cached_samples": sum(len(y) for _, y in cached),
    }
    # Train V2 keeps only the reports that carry a checkpoint in Result.metrics: attach a tiny one.
    import tempfile as _tempfile

    from ray.train import Checkpoint

    with _tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "metrics.json"), "w") as f:
            json.dump(metrics, f)
        ray.train.report(metrics, checkpoint=Checkpoint.from_directory(folder))


def run_train(use_gpu: bool, size: dict, data) -> dict:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    threads = size["gpu_worker_cpus"] if use_gpu else size["cpu_worker_cpus"]
    config = {
        "hidden": size["hidden"],
        "layers": size["layers"],
        "side": size["side"],
        "lr": 0.01,
        "batch_size": size["batch_size"],
        "epochs": size["epochs"],
        "threads": threads,
        "max_seconds": 1e9 if use_gpu else size["cpu_train_max_s"],
    }
    scaling = ScalingConfig(num_workers=1, use_gpu=use_gpu, resources_per_worker={"CPU": threads})
    storage = tempfile.mkdtemp(prefix="gpucmp_train_", dir=os.environ["RAY_TMPDIR"])
    trainer = TorchTrainer(
        train_loop,
        train_loop_config=config,
        scaling_config=scaling,
        datasets={"train": data},
        run_config=RunConfig(name=f"digits_{'gpu' if use_gpu else 'cpu'}", storage_path=storage),
    )
    say(f"train: TorchTrainer use_gpu={use_gpu}, {threads} CPU threads, {config}")
    began = time.time()
    result = trainer.fit()
    fit_s = time.time() - began
    if result.error:
        raise result.error
    m = result.metrics
    if not m:
        raise RuntimeError(f"no metrics came back from the Train run: {result!r}")
    epochs = m["epoch_s"]
    steady = epochs[1:] if len(epochs) > 1 else epochs
    median = statistics.median(steady)
    row = {
        "use_gpu": use_gpu,
        "device": m["device"],
        "device_name": m["device_name"],
        "worker_threads": m["threads"],
        "cuda_visible_devices": m["cuda_visible_devices"],
        "torch_cuda_available": m["torch_cuda_available"],
        "startup_s": round(m["worker_started_at"] - began, 2),
        "fit_s": round(fit_s, 2),
        "epochs_run": len(epochs),
        "epoch_s": [round(e, 3) for e in epochs],
        "first_epoch_s": round(epochs[0], 3),
        "median_epoch_s": round(median, 3),
        "samples_per_epoch": m["samples_per_epoch"],
        "samples_per_s": round(m["samples_per_epoch"] / median, 1),
        "cached_epoch_s": round(m["cached_epoch_s"], 4),
        "cached_samples_per_s": round(m["cached_samples"] / m["cached_epoch_s"], 1),
        "train_tflops_cached": round(
            3 * size["flops"] * m["cached_samples"] / m["cached_epoch_s"] / 1e12, 3
        ),
        "final_loss": round(m["losses"][-1], 4),
    }
    say("train result:", json.dumps(row))
    return row


# ----------------------------------------------------------------------------------------------
# (b) Ray Serve


def make_deployment(size: dict):
    from ray import serve
    from starlette.requests import Request

    class DigitsModel:
        def __init__(self, threads: int, use_gpu: bool):
            import torch as _torch

            _torch.set_num_threads(threads)
            _torch.manual_seed(0)
            # Chosen from the deployment's own options, not torch.cuda.is_available(): Ray 2.60
            # leaves CUDA_VISIBLE_DEVICES unset in an actor that asked for no GPU, so on a GPU
            # host a "CPU" replica still sees (and would silently use) the GPU.
            self.cuda_seen = _torch.cuda.is_available()
            self.device = _torch.device("cuda" if use_gpu else "cpu")
            self.model = build_model(size["hidden"], size["layers"], size["side"]).to(self.device)
            self.model.eval()
            self.batch_sizes: list[int] = []

        @serve.batch(max_batch_size=size["serve_max_batch"], batch_wait_timeout_s=0.002)
        async def predict(self, images: list[np.ndarray]) -> list[list[int]]:
            import torch as _torch

            self.batch_sizes.append(len(images))
            counts = [len(i) for i in images]
            x = _torch.from_numpy(np.concatenate(images)).to(self.device, non_blocking=True)
            with _torch.inference_mode():
                labels = self.model(x).argmax(dim=1).cpu().numpy()
            out, start = [], 0
            for c in counts:
                out.append(labels[start : start + c].tolist())
                start += c
            return out

        async def __call__(self, request: Request) -> dict:
            body = await request.json()
            images = np.asarray(body["pixels"], dtype=np.float32) / 16.0
            return {"labels": await self.predict(images)}

        def info(self) -> dict:
            import torch as _torch

            return {
                "device": str(self.device),
                "threads": _torch.get_num_threads(),
                "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
                "torch_cuda_available": self.cuda_seen,
                "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
                "mean_server_batch": (
                    float(np.mean(self.batch_sizes)) if self.batch_sizes else 0.0
                ),
            }

    return serve.deployment(DigitsModel)


def post(url: str, payload: bytes) -> float:
    req = urllib.request.Request(url, data=payload, headers={"Content-Type": "application/json"})
    t = time.perf_counter()
    with urllib.request.urlopen(req, timeout=60) as resp:
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status} from {url}")
    return time.perf_counter() - t


def load(url: str, payloads: list[bytes], concurrency: int, requests: int) -> dict:
    """``requests`` POSTs from ``concurrency`` threads; latency of each, requests/s overall."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[str] = []
    per_thread = max(1, requests // concurrency)

    def client(k: int) -> None:
        for i in range(per_thread):
            try:
                dt = post(url, payloads[(k * per_thread + i) % len(payloads)])
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(repr(exc))
                continue
            with lock:
                latencies.append(dt)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    began = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - began
    lat = np.asarray(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "concurrency": concurrency,
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if len(lat) else None,
        "p95_ms": round(float(np.percentile(lat, 95)), 2) if len(lat) else None,
        "mean_ms": round(float(lat.mean()), 2) if len(lat) else None,
        "requests_per_s": round(len(latencies) / wall, 1),
    }


def run_serve(gpu: bool, size: dict, port: int, pixels: np.ndarray) -> dict:
    from ray import serve

    name = "digits_gpu" if gpu else "digits_cpu"
    threads = size["gpu_worker_cpus"] if gpu else size["cpu_worker_cpus"]
    options = {"num_cpus": threads, **({"num_gpus": 1} if gpu else {})}
    deployment = make_deployment(size).options(
        name=name,
        ray_actor_options=options,
        max_ongoing_requests=4 * size["serve_max_batch"],
        logging_config={"log_level": "WARNING", "enable_access_log": False},
    )
    say(f"serve: deploying {name} with ray_actor_options={options}")
    began = time.time()
    handle = serve.run(deployment.bind(threads, gpu), name=name, route_prefix=f"/{name}")
    deploy_s = time.time() - began
    url = f"http://127.0.0.1:{port}/{name}"
    rng = np.random.default_rng(1)
    results = {}
    for per_req in size["images_per_request"]:
        payloads = []
        for _ in range(16):
            idx = rng.integers(0, len(pixels), per_req)
            payloads.append(json.dumps({"pixels": (pixels[idx] * 16).round().tolist()}).encode())
        for p in payloads[:8]:  # warm-up: CUDA context, cuBLAS, the proxy's route
            post(url, p)
        for conc in size["serve_concurrency"]:
            r = load(url, payloads, conc, size["serve_requests"])
            r["images_per_request"] = per_req
            results[f"{per_req}img_c{conc}"] = r
            say(f"serve {name} {per_req} images/request, concurrency {conc}: {json.dumps(r)}")
    info = handle.info.remote().result()
    serve.delete(name)
    return {
        "deployment": name,
        "ray_actor_options": options,
        "deploy_s": round(deploy_s, 2),
        "replica": info,
        "load": results,
    }


# ----------------------------------------------------------------------------------------------
# (c) fractional GPUs


@ray.remote
class GpuShare:
    def report(self, mib: int) -> dict:
        out = {
            "pid": os.getpid(),
            "gpu_ids": [str(g) for g in ray.get_gpu_ids()],
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "cuda_available": torch.cuda.is_available(),
        }
        if torch.cuda.is_available():
            self.block = torch.empty(mib * 2**20, dtype=torch.uint8, device="cuda")
            self.block.fill_(1)
            torch.cuda.synchronize()
            free, total = torch.cuda.mem_get_info()
            out.update(
                {
                    "device_count": torch.cuda.device_count(),
                    "current_device": torch.cuda.current_device(),
                    "device_name": torch.cuda.get_device_name(),
                    "allocated_mib": round(torch.cuda.memory_allocated() / 2**20, 1),
                    "reserved_mib": round(torch.cuda.memory_reserved() / 2**20, 1),
                    "device_free_mib": round(free / 2**20),
                    "device_total_mib": round(total / 2**20),
                }
            )
        return out


def run_fractional(mib: int) -> list[dict]:
    actors = [GpuShare.options(num_gpus=0.25, num_cpus=0).remote() for _ in range(4)]
    rows = ray.get([a.report.remote(mib * (k + 1)) for k, a in enumerate(actors)])
    for k, row in enumerate(rows):
        say(f"fractional actor {k} (num_gpus=0.25, asked {mib * (k + 1)} MiB): {json.dumps(row)}")
    for a in actors:
        ray.kill(a)
    return rows


# ----------------------------------------------------------------------------------------------
# main


def sizes(small: bool, cpus: int) -> dict:
    if small:
        s = {
            "copies": 1,
            "hidden": 128,
            "layers": 2,
            "side": 8,
            "batch_size": 128,
            "epochs": 2,
            "cpu_worker_cpus": 1,
            "gpu_worker_cpus": 1,
            "cpu_train_max_s": 30,
            "serve_max_batch": 4,
            "images_per_request": [8],
            "serve_concurrency": [1, 4],
            "serve_requests": 40,
            "fractional_mib": 16,
        }
    else:
        s = {
            "copies": 8,
            "hidden": 4096,
            "layers": 3,
            "side": 32,
            "batch_size": 256,
            "epochs": 5,
            "cpu_worker_cpus": max(1, min(cpus - 2, 14)),
            "gpu_worker_cpus": 2,
            "cpu_train_max_s": 75,
            "serve_max_batch": 8,
            "images_per_request": [64, 512],
            "serve_concurrency": [1, 8],
            "serve_requests": 240,
            "fractional_mib": 1024,
        }
    s["flops"] = model_flops_per_sample(s["hidden"], s["layers"], s["side"])
    return s


def table(results: dict) -> str:
    lines = ["", "RESULTS " + "=" * 80]
    m = results["meta"]
    lines.append(
        f"{m['date']}  host={m['host']}  gpu={m['gpu']}  cpus={m['cpus']}  ray={m['ray']}  "
        f"torch={m['torch']}  python={m['python']}"
    )
    lines.append(f"model: {m['model']}")
    lines.append("")
    lines.append(
        f"{'train':10} {'startup s':>9} {'epoch1 s':>9} {'median s':>9} {'samples/s':>11} "
        f"{'cached s':>9} {'cached/s':>11} {'TFLOP/s':>8} {'epochs':>6} {'loss':>7}"
    )
    for key, r in results["train"].items():
        lines.append(
            f"{key:10} {r['startup_s']:9.2f} {r['first_epoch_s']:9.3f} {r['median_epoch_s']:9.3f} "
            f"{r['samples_per_s']:11.1f} {r['cached_epoch_s']:9.4f} "
            f"{r['cached_samples_per_s']:11.1f} {r['train_tflops_cached']:8.3f} "
            f"{r['epochs_run']:6d} {r['final_loss']:7.4f}"
        )
    if {"cpu", "gpu"} <= results["train"].keys():
        c, g = results["train"]["cpu"], results["train"]["gpu"]
        lines.append(
            f"GPU/CPU speed-up: {c['median_epoch_s'] / g['median_epoch_s']:.1f}x per epoch "
            f"(Ray Data feed), {c['cached_epoch_s'] / g['cached_epoch_s']:.1f}x on cached batches"
        )
    lines.append("")
    lines.append(
        f"{'serve':12} {'img/req':>7} {'conc':>4} {'req':>5} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'req/s':>8} {'img/s':>9} {'srv batch':>9} {'errors':>6}"
    )
    for key, r in results["serve"].items():
        for lr in r["load"].values():
            lines.append(
                f"{key:12} {lr['images_per_request']:7d} {lr['concurrency']:4d} "
                f"{lr['requests']:5d} {lr['p50_ms']:8.2f} {lr['p95_ms']:8.2f} "
                f"{lr['requests_per_s']:8.1f} "
                f"{lr['requests_per_s'] * lr['images_per_request']:9.0f} "
                f"{r['replica']['mean_server_batch']:9.2f} {lr['errors']:6d}"
            )
    lines.append("")
    lines.append("fractional GPUs: 4 actors, num_gpus=0.25 each")
    for k, r in enumerate(results["fractional"]):
        extra = (
            f"current_device={r.get('current_device')} count={r.get('device_count')} "
            f"allocated={r.get('allocated_mib')} MiB device free/total="
            f"{r.get('device_free_mib')}/{r.get('device_total_mib')} MiB"
            if r["cuda_available"]
            else "torch.cuda.is_available()=False (logical GPU only)"
        )
        lines.append(
            f"  actor {k} pid={r['pid']} ray.get_gpu_ids()={r['gpu_ids']} "
            f"CUDA_VISIBLE_DEVICES={r['cuda_visible_devices']!r} {extra}"
        )
    lines.append("=" * 88)
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", action="store_true", help="tiny sizes (a smoke test)")
    ap.add_argument("--cpu-only", action="store_true", help="skip the GPU parts")
    ap.add_argument("--out", default=os.environ.get("OUT") or str(REPO / "gpu_compare_out"))
    ap.add_argument(
        "--skip", default="", help="comma list of parts to skip: train,serve,fractional"
    )
    args = ap.parse_args()
    # A `timeout` around the run sends SIGTERM: exit through the finally below (save, shutdown).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    skip = set(filter(None, args.skip.split(",")))
    Path(args.out).mkdir(parents=True, exist_ok=True)

    cuda = torch.cuda.is_available() and not args.cpu_only
    if not args.cpu_only and not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible to torch: run with --cpu-only, or on a GPU host")
    cpus = os.cpu_count() or 2
    size = sizes(args.small, cpus)
    # On a CPU-only run, one logical GPU still lets the fractional part show what lessons show.
    num_gpus = torch.cuda.device_count() if cuda else 1
    gpu_name = torch.cuda.get_device_name(0) if cuda else None
    model_desc = (
        f"8x8 -> bilinear {size['side']}x{size['side']} -> "
        f"{size['layers']} x Linear({size['hidden']})+ReLU -> 10; "
        f"{size['flops'] / 1e6:.1f} MFLOP/sample forward (training ~3x); fp32; "
        f"{1500 * size['copies']} training rows, batch {size['batch_size']}"
    )
    say(
        f"python {sys.version.split()[0]}, torch {torch.__version__}, ray {ray.__version__}, "
        f"cpus {cpus}, gpu {gpu_name}"
    )
    say("model:", model_desc)

    # A free port for the dashboard agent too: Ray's fixed 52365 collides with other clusters.
    try:
        from ray._private import parameter

        saved_init = parameter.RayParams.__init__
        agent_port = free_port()

        def init_with_agent_port(self, *a, **k):
            saved_init(self, *a, **k)
            self.dashboard_agent_listen_port = agent_port

        parameter.RayParams.__init__ = init_with_agent_port
    except Exception as exc:  # noqa: BLE001 - only a convenience on shared hosts
        say("could not set the dashboard agent port:", exc)

    temp_dir = tempfile.mkdtemp(prefix="gc", dir=os.environ["RAY_TMPDIR"])
    began = time.time()
    ray.init(
        address="local",
        num_cpus=cpus,
        num_gpus=num_gpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        _temp_dir=temp_dir,
        logging_level="WARNING",
    )
    ray_start_s = time.time() - began
    say(f"ray.init took {ray_start_s:.1f}s; resources {ray.cluster_resources()}")
    ray.data.DataContext.get_current().enable_progress_bars = False

    results: dict = {
        "meta": {
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "host": platform.node(),
            "cpus": cpus,
            "gpu": gpu_name,
            "gpu_count": torch.cuda.device_count() if cuda else 0,
            "ray": ray.__version__,
            "torch": torch.__version__,
            "cuda": torch.version.cuda,
            "python": sys.version.split()[0],
            "small": args.small,
            "cpu_only": args.cpu_only,
            "ray_init_s": round(ray_start_s, 2),
            "model": model_desc,
            "sizes": size,
        },
        "train": {},
        "serve": {},
        "fractional": [],
        "errors": [],
    }

    def save() -> None:
        (Path(args.out) / "gpu_compare.json").write_text(json.dumps(results, indent=2))

    try:
        x, y = load_digits(size["copies"])
        say(f"data: {x.shape[0]} rows x {x.shape[1]} pixels")
        if "train" not in skip:
            import pyarrow as pa
            from ray.data.extensions import ArrowTensorArray

            table_xy = pa.table({"x": ArrowTensorArray.from_numpy(x), "y": pa.array(y)})
            data = ray.data.from_arrow(table_xy).repartition(8).materialize()
            for key, gpu in (("cpu", False), ("gpu", True)):
                if gpu and not cuda:
                    continue
                try:
                    results["train"][key] = run_train(gpu, size, data)
                except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                    say(f"train {key} FAILED: {exc!r}")
                    results["errors"].append(f"train {key}: {exc!r}")
                save()
        if "serve" not in skip:
            from ray import serve

            port = free_port()
            serve.start(
                http_options={"host": "127.0.0.1", "port": port},
                logging_config={"log_level": "WARNING", "enable_access_log": False},
            )
            for key, gpu in (("cpu", False), ("gpu", True)):
                if gpu and not cuda:
                    continue
                try:
                    results["serve"][key] = run_serve(gpu, size, port, x)
                except Exception as exc:  # noqa: BLE001
                    say(f"serve {key} FAILED: {exc!r}")
                    results["errors"].append(f"serve {key}: {exc!r}")
                save()
            serve.shutdown()
        if "fractional" not in skip:
            try:
                results["fractional"] = run_fractional(size["fractional_mib"])
            except Exception as exc:  # noqa: BLE001
                say(f"fractional FAILED: {exc!r}")
                results["errors"].append(f"fractional: {exc!r}")
    finally:
        save()
        ray.shutdown()

    results["meta"]["total_s"] = round(time.time() - T0, 1)
    save()
    print(table(results), flush=True)
    if results["errors"]:
        print("ERRORS:", *results["errors"], sep="\n  ")
    say(f"wrote {Path(args.out) / 'gpu_compare.json'}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
