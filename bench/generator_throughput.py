"""Generator inference speed: images/s by batch size, latency, and share of matmul peak.

Measures, in one run on this machine (CPU, or CUDA when present):

* the fp32 matmul peak (a 2048^3 ``torch.mm``, median of repeats) — the ceiling;
* images/s at batch 1, 16, 64 and 256 for each inference variant: eager fp32
  (NCHW), channels_last, channels_last + ``torch.compile``, int8 dynamic
  quantisation, and bf16 autocast (CUDA: bf16 instead of int8);
* p50/p99 latency of batch 1 and batch 8 for the best variant;
* the fraction of the matmul peak reached: images/s x FLOPs per image (from the
  layer shapes) / peak.

    python bench/generator_throughput.py [--weights FILE] [--no-compile] [--quick]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pigen.data.conditions import ConditionLayout  # noqa: E402
from pigen.generator.checkpoint import load_generator  # noqa: E402
from pigen.generator.config import GeneratorConfig  # noqa: E402
from pigen.generator.models import (  # noqa: E402
    Generator,
    build_generator,
    generator_flops_per_image,
)
from pigen.generator.sampling import prepare_for_inference  # noqa: E402
from pigen.generator.shipped import PREVIOUS_GENERATORS, SHIPPED_GENERATOR  # noqa: E402
from pigen.generator.train import random_conditions  # noqa: E402

BATCHES = (1, 16, 64, 256)


def matmul_peak_gflops(device: torch.device, repeats: int = 10, n: int = 2048) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times[2:]) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: torch.device, seconds: float,
          min_runs: int = 5) -> list[float]:
    """Run ``fn`` for about ``seconds`` (at least ``min_runs``), return per-call times."""
    for _ in range(2):  # warm-up
        fn()
    _sync(device)
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < min_runs or time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


def variants(model: Generator, device: torch.device, compile_model: bool
             ) -> dict[str, tuple[torch.nn.Module, bool]]:
    """name -> (module, bf16 autocast?)."""
    out: dict[str, tuple[torch.nn.Module, bool]] = {
        # Loaded models come channels_last; the baseline is plain NCHW.
        "eager fp32 (NCHW)": (copy.deepcopy(model).to(device).eval().to(
            memory_format=torch.contiguous_format), False),
        "channels_last": (prepare_for_inference(copy.deepcopy(model).to(device)), False),
    }
    if device.type == "cpu":
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize.*")
        quantised = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).eval(), {torch.nn.Linear}, dtype=torch.qint8)
        out["channels_last + int8 Linear"] = (quantised.to(memory_format=torch.channels_last),
                                              False)
    out["channels_last + bf16"] = (prepare_for_inference(copy.deepcopy(model).to(device)), True)
    if compile_model:
        out["channels_last + compile"] = (
            prepare_for_inference(copy.deepcopy(model).to(device), compile_model=True), False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--quick", action="store_true", help="short timings (smoke test)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available()
                          else ("cpu" if args.device == "auto" else args.device))
    layout = ConditionLayout.builtin()
    path = args.weights or SHIPPED_GENERATOR
    if path.exists():
        model = load_generator(path).model
        source = str(path)
    else:
        model = build_generator(GeneratorConfig(), layout).eval()
        source = "untrained default config (no weights file)"
    flops = generator_flops_per_image(model)
    seconds = 0.3 if args.quick else 3.0
    peak = matmul_peak_gflops(device, repeats=3 if args.quick else 10)
    print(f"device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}")
    print(f"model {source}: {flops / 1e6:.1f} MFLOP per {model.config.resolution}px image")
    print(f"fp32 matmul peak {peak:.1f} GFLOP/s (2048^3 torch.mm, median)\n")

    rng = np.random.default_rng(0)
    batches = (1, 64) if args.quick else BATCHES
    header = f"{'variant':<26}" + "".join(f"{'b=' + str(b):>10}" for b in batches)
    print("images/s by batch size")
    print(header + f"{'% peak @64':>12}")
    best_name, best_rate, best = "", 0.0, None
    for name, (module, bf16) in variants(model, device, not args.no_compile).items():
        rates = []
        for b in batches:
            z = torch.randn(b, model.config.z_dim, device=device)
            c = torch.from_numpy(random_conditions(layout, b, rng)).to(device)

            def forward(module=module, z=z, c=c, bf16=bf16) -> object:
                with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16,
                                                            enabled=bf16):
                    return module(z, c)

            if "compile" in name:
                start = time.perf_counter()
                forward()
                print(f"  ({name}: b={b} compiled in {time.perf_counter() - start:.0f} s)")
            rates.append(b / statistics.median(timed(forward, device, seconds)))
        at64 = rates[batches.index(64)]
        share = at64 * flops / (peak * 1e9)
        print(f"{name:<26}" + "".join(f"{r:>10,.0f}" for r in rates) + f"{share:>11.0%}")
        if at64 > best_rate:
            best_name, best_rate, best = name, at64, (module, bf16)

    for path in PREVIOUS_GENERATORS:  # the baseline, measured in this same run
        if not path.is_file():
            continue
        old = load_generator(path, device=device).model
        z = torch.randn(64, old.config.z_dim, device=device)
        c = torch.from_numpy(random_conditions(layout, 64, rng)).to(device)

        def forward_old(old=old, z=z, c=c) -> object:
            with torch.inference_mode():
                return old(z, c)

        rate = 64 / statistics.median(timed(forward_old, device, seconds))
        print(f"{'previous: ' + path.name:<26}{rate:>10,.0f} images/s at b=64, channels_last "
              f"eager ({generator_flops_per_image(old) / 1e6:.0f} MFLOP/image)")
    eager = variants(model, device, False)["channels_last"][0]
    z = torch.randn(64, model.config.z_dim, device=device)
    c = torch.from_numpy(random_conditions(layout, 64, rng)).to(device)

    def forward_eager() -> object:
        with torch.inference_mode():
            return eager(z, c)

    eager_rate = 64 / statistics.median(timed(forward_eager, device, seconds))

    print(f"\nlatency of the best variant at b=64 ({best_name}), ms")
    assert best is not None
    module, bf16 = best
    for b in (1, 8):
        z = torch.randn(b, model.config.z_dim, device=device)
        c = torch.from_numpy(random_conditions(layout, b, rng)).to(device)

        def forward(z=z, c=c) -> object:
            with torch.inference_mode(), torch.autocast(device.type, torch.bfloat16,
                                                        enabled=bf16):
                return module(z, c)

        times = np.array(timed(forward, device, seconds, min_runs=50 if not args.quick else 5))
        print(f"  batch {b}: p50 {np.percentile(times, 50) * 1e3:.2f}  "
              f"p99 {np.percentile(times, 99) * 1e3:.2f}  ({len(times)} runs)")
    print(f"\nbest at batch 64: {best_rate:,.0f} images/s ({best_name})")
    print(f"eager (channels_last, no compile) at batch 64: {eager_rate:,.0f} images/s; "
          "target >= 1,500 on the 2-core CPU")


if __name__ == "__main__":
    main()
