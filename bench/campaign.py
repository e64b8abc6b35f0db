"""Campaign throughput: the local and Ray backends against the bare generator, same run.

Builds a dedicated store in a temporary folder (the demo catalog and simulated
shoppers — ``--users`` of them —, a quickly fitted ALS), then for one campaign
definition (every user, ``--images-per-user`` images, one batch size):

1. the bare generator: ``sample`` + ``to_uint8`` on ``--bare-images`` conditions at
   the campaign's batch size (no profiles, no PNG, no files, no database);
2. the local backend: ``pigen campaign run`` in this process;
3. the Ray backend: a local Ray with one CPU actor per core (``--ray-workers``);

and prints images/s, the ratio to the bare generator (target: local within
1.5x), the time per stage, and the peak resident memory of the process tree
(this process plus Ray's processes, sampled every 0.1 s). Both backends'
files are compared byte for byte.

Generator: the shipped weights if present, else an untrained generator of the
default architecture (the same cost per image).

    python bench/campaign.py                      # 20,000 users x 4 images
    python bench/campaign.py --users 50           # smoke run
    python bench/campaign.py --backends local     # skip Ray
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


class PeakRSS:
    """Peak resident memory (MiB) of this process and all its descendants, sampled."""

    def __init__(self, every: float = 0.1) -> None:
        self.every, self.peak, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mib(os.getpid()))
            self._stop.wait(self.every)


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants, from /proc (Linux)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo += [int(c) for c in children.read().split()]
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total / 1024


def build_store(root: Path, users: int, items: int):  # type: ignore[no-untyped-def]
    from pigen.data.catalog.builtin import CatalogConfig
    from pigen.data.database import make_engine
    from pigen.data.demo_data import DemoDataConfig, build_demo_data
    from pigen.data.migrate import upgrade_database
    from pigen.data.simulator import SimulatorConfig
    from pigen.recsys.config import ALSConfig
    from pigen.service.recsys_serving import train_and_register

    engine = make_engine(f"sqlite:///{root / 'pigen.db'}")
    upgrade_database(engine)
    build_demo_data(engine, root, DemoDataConfig(
        catalog=CatalogConfig(n_items=items, seed=0),
        simulator=SimulatorConfig(n_shoppers=users, seed=0, mean_ratings=20.0)),
        progress=False)
    # A small, fast fit: the campaign's cost per user hardly depends on the factors.
    train_and_register(engine, root / "models", ALSConfig(factors=32, iterations=5))
    return engine


def generator_weights(root: Path) -> Path:
    from pigen.generator.shipped import SHIPPED_GENERATOR

    if SHIPPED_GENERATOR.is_file():
        return SHIPPED_GENERATOR
    import torch

    from pigen.data.conditions import ConditionLayout
    from pigen.generator.checkpoint import save_generator
    from pigen.generator.config import GeneratorConfig
    from pigen.generator.models import build_generator

    torch.manual_seed(0)
    layout = ConditionLayout.builtin()
    model = build_generator(GeneratorConfig(), layout).eval()
    return save_generator(model, layout, root / "models" / "untrained.safetensors")


def bare_generator(weights: Path, n: int, batch_size: int, device: str) -> float:
    """Images/s of ``sample`` + ``to_uint8`` alone, at the campaign's batch size."""
    from pigen.data.conditions import ConditionLayout, one_hot, stack
    from pigen.generator.checkpoint import load_generator
    from pigen.generator.sampling import sample, to_uint8

    loaded = load_generator(weights, device=device)
    layout = ConditionLayout.builtin()
    rng = np.random.default_rng(0)
    vectors = [one_hot(layout, int(rng.integers(layout.n_categories)), rng.random(3),
                       int(rng.integers(layout.n_patterns))) for _ in range(n)]
    conditions = stack(vectors)
    seeds = rng.integers(0, 2**63, size=n, dtype=np.int64)
    to_uint8(sample(loaded.model, conditions[:batch_size], seeds[:batch_size], batch_size))
    started = time.perf_counter()
    for i in range(0, n, batch_size):
        to_uint8(sample(loaded.model, conditions[i:i + batch_size], seeds[i:i + batch_size],
                        batch_size))
    return n / (time.perf_counter() - started)


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "campaign.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--images-per-user", type=int, default=4)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--shard-size", type=int, default=256)
    parser.add_argument("--bare-images", type=int, default=20_480,
                        help="Images for the bare generator figure (at most the campaign's).")
    parser.add_argument("--backends", default="local,ray")
    parser.add_argument("--ray-workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--encode-threads", type=int, default=0,
                        help="Local backend's PNG threads (0: up to 4).")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    from pigen.service.campaigns.definition import AllUsers, CampaignSpec
    from pigen.service.campaigns.runner import run_campaign
    from pigen.service.campaigns.store import create_campaign
    from pigen.service.generator_serving import ensure_generator_version

    with tempfile.TemporaryDirectory(prefix="pigen-campaign-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        engine = build_store(root, args.users, args.items)
        weights = generator_weights(root)
        ensure_generator_version(engine, weights=weights)
        print(f"store: {args.users:,} users, {args.items:,} items, ALS fitted in "
              f"{time.perf_counter() - started:.1f}s; generator {weights.name}; "
              f"{os.cpu_count()} CPUs, device {args.device}")
        n_images = args.users * args.images_per_user
        bare_n = min(args.bare_images, n_images)
        bare = bare_generator(weights, bare_n, args.batch_size, args.device)
        print(f"bare generator: {bare_n:,} images at batch {args.batch_size}: "
              f"{bare:,.0f} images/s")

        rows, digests = [], {}
        for backend in backends:
            spec = CampaignSpec(name=f"bench-{backend}", segment=AllUsers(),
                                output_dir=root / f"out-{backend}",
                                images_per_user=args.images_per_user,
                                shard_size=args.shard_size, batch_size=args.batch_size)
            campaign = create_campaign(engine, spec)
            ray_start = 0.0
            if backend == "ray":
                import ray

                t0 = time.perf_counter()
                ray.init(num_cpus=os.cpu_count(), include_dashboard=False,
                         log_to_driver=False, configure_logging=False)
                ray_start = time.perf_counter() - t0
            with PeakRSS() as memory:
                t0 = time.perf_counter()
                report = run_campaign(engine, campaign.id, backend=backend,  # type: ignore
                                      workers=(args.ray_workers if backend == "ray"
                                               else args.encode_threads),
                                      device=args.device)
                seconds = time.perf_counter() - t0
            if backend == "ray":
                import ray

                ray.shutdown()
            digests[backend] = digest(campaign.output_dir)
            stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.seconds.items())
            rows.append((backend, report.images_made, seconds, ray_start, memory.peak, stages))

        print()
        print(f"{'backend':<8} {'images':>8} {'seconds':>8} {'images/s':>9} "
              f"{'bare/this':>9} {'peak RSS':>10}  stage time (summed over workers)")
        print(f"{'bare':<8} {bare_n:>8,} {bare_n / bare:>8.1f} {bare:>9,.0f} {1.0:>9.2f} "
              f"{'':>10}")
        for backend, images, seconds, ray_start, peak, stages in rows:
            rate = images / seconds
            extra = f" (+{ray_start:.1f}s ray.init)" if ray_start else ""
            print(f"{backend:<8} {images:>8,} {seconds:>8.1f} {rate:>9,.0f} "
                  f"{bare / rate:>9.2f} {peak:>8,.0f}MiB  {stages}{extra}")
        local = next((r for r in rows if r[0] == "local"), None)
        if local is not None:
            ratio = bare / (local[1] / local[2])
            verdict = "met" if ratio <= 1.5 else "missed"
            print(f"\ntarget local within 1.5x of the bare generator: {ratio:.2f}x ({verdict})")
        if len(digests) == 2:
            same = digests["local"] == digests["ray"]
            print(f"local and ray outputs byte-identical: {'yes' if same else 'NO'} "
                  f"({len(digests['local']):,} files)")


if __name__ == "__main__":
    main()
