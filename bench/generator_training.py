"""Generator training speed: the old trainer's step against today's, same models, same run.

Both trainers step the *same* architecture (today's default config, or one given
with ``--set``), so the ratio is the trainer's doing, not a smaller model's:

* **old** (what ``train_step`` did before Generator 2.0): D sees the real batch
  and the fake batch in two forwards; G runs twice (a no-grad pass for D, a fresh
  pass with its graph for its own step); D's weight gradients are computed during
  G's backward and thrown away; Adam loops over parameters (``foreach``, not
  fused); DiffAugment translates *and* cuts out;
* **new** (:func:`pigen.generator.train.train_step`): one D forward over real and
  fake together, G's forward reused for its own step, D frozen during G's
  backward, fused Adam, translation only.

Rounds alternate old and new (the machine is shared and noisy); the figures are
medians of the rounds. Then one profiled step of each, broken down by the phases
``train_step`` names (``step/...`` spans) and by the heaviest operators.

    python bench/generator_training.py [--rounds 5] [--steps 10] [--set d_channels=48]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import torch  # noqa: E402

from pigen.data.conditions import ConditionLayout  # noqa: E402
from pigen.data.datasets.fashion_mnist import load_fashion_mnist  # noqa: E402
from pigen.generator.augment import rand_translation  # noqa: E402
from pigen.generator.config import GeneratorConfig  # noqa: E402
from pigen.generator.losses import discriminator_hinge_loss, generator_hinge_loss  # noqa: E402
from pigen.generator.train import (  # noqa: E402
    TrainingState,
    build_training,
    phase,
    train_step,
    update_ema,
)


def old_cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """The old policy's cutout: zero one half-side square per image."""
    b, _, h, w = x.shape
    size = int(h * ratio + 0.5)
    off_h = torch.randint(0, h + (1 - size % 2), (b, 1, 1))
    off_w = torch.randint(0, w + (1 - size % 2), (b, 1, 1))
    batch, rows, cols = torch.meshgrid(torch.arange(b), torch.arange(size), torch.arange(size),
                                       indexing="ij")
    rows = torch.clamp(rows + off_h - size // 2, 0, h - 1)
    cols = torch.clamp(cols + off_w - size // 2, 0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype)
    mask[batch, rows, cols] = 0
    return x * mask.unsqueeze(1)


def old_augment(x: torch.Tensor) -> torch.Tensor:
    return old_cutout(rand_translation(x))


def old_step(state: TrainingState) -> None:
    """The step as it was: two D passes, two G forwards, D gradients in G's step."""
    config, g, d = state.config, state.generator, state.discriminator
    n = config.batch_size
    g.train()
    with phase("render"):
        batch = state.stream.next_batch(n)
        real, conditions = batch.images, batch.conditions
    with phase("G forward"), torch.no_grad():
        fake = g(torch.randn(n, config.z_dim), conditions)
    with phase("D forward"):
        loss_d = discriminator_hinge_loss(d(old_augment(real), conditions),
                                          d(old_augment(fake), conditions))
    with phase("D backward"):
        state.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
    with phase("optimisers"):
        state.opt_d.step()
    with phase("G forward"):
        fake = g(torch.randn(n, config.z_dim), conditions)
    with phase("D forward (G step)"):
        loss_g = generator_hinge_loss(d(old_augment(fake), conditions))
    with phase("G+D backward (G step)"):
        state.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
    with phase("optimisers"):
        state.opt_g.step()
    with phase("EMA"):
        update_ema(state.ema, g, config.ema_decay)
    state.step += 1


def old_state(config: GeneratorConfig, layout: ConditionLayout, shapes, labels) -> TrainingState:  # type: ignore[no-untyped-def]
    state = build_training(config, layout, shapes, labels, torch.device("cpu"))
    betas = (config.beta1, config.beta2)
    state.opt_g = torch.optim.Adam(state.generator.parameters(), lr=config.lr_g, betas=betas)
    state.opt_d = torch.optim.Adam(state.discriminator.parameters(), lr=config.lr_d, betas=betas)
    return state


def images_per_second(step: Callable[[TrainingState], object], state: TrainingState,
                      steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step(state)
    return steps * state.config.batch_size / (time.perf_counter() - start)


def profile(step: Callable[[TrainingState], object], state: TrainingState,
            steps: int = 3) -> tuple[dict[str, float], list[tuple[str, float]]]:
    """(ms per step by phase, top operators by self time in ms per step)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step(state)
    events = prof.key_averages()
    phases = {e.key.removeprefix("step/"): e.cpu_time_total / 1000 / steps
              for e in events if e.key.startswith("step/")}
    operators = sorted(((e.key, e.self_cpu_time_total / 1000 / steps) for e in events
                        if not e.key.startswith("step/")), key=lambda kv: -kv[1])[:8]
    return phases, operators


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="steps per round and trainer")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--set", action="append", default=[], help="NAME=VALUE config field")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    values = {k: json.loads(v) for k, _, v in (s.partition("=") for s in args.set)}
    config = GeneratorConfig.from_dict(values)
    layout = ConditionLayout.builtin()
    data = load_fashion_mnist("train")
    old, new = (old_state(config, layout, data.images, data.labels),
                build_training(config, layout, data.images, data.labels, torch.device("cpu")))
    for _ in range(3):  # warm-up: allocator, oneDNN kernels
        old_step(old)
        train_step(new)
    rates: dict[str, list[float]] = {"old": [], "new": []}
    for round_ in range(args.rounds):
        rates["old"].append(images_per_second(old_step, old, args.steps))
        rates["new"].append(images_per_second(train_step, new, args.steps))
        print(f"round {round_ + 1}: old {rates['old'][-1]:.0f} images/s, "
              f"new {rates['new'][-1]:.0f} images/s", flush=True)
    ratios = [n / o for n, o in zip(rates["new"], rates["old"], strict=True)]
    old_median, new_median = statistics.median(rates["old"]), statistics.median(rates["new"])
    print(f"\nbatch {config.batch_size}, {args.threads} threads, G {config.g_channels} / "
          f"D {config.d_channels} channels, {args.rounds} rounds x {args.steps} steps")
    print(f"old trainer: {old_median:.0f} training images/s (median), "
          f"{1000 * config.batch_size / old_median:.0f} ms/step")
    print(f"new trainer: {new_median:.0f} training images/s (median), "
          f"{1000 * config.batch_size / new_median:.0f} ms/step")
    print(f"speed-up: {new_median / old_median:.2f}x (median of per-round ratios "
          f"{statistics.median(ratios):.2f}x, range {min(ratios):.2f}-{max(ratios):.2f})")
    for name, step, state in (("old", old_step, old), ("new", train_step, new)):
        phases, operators = profile(step, state)
        total = sum(phases.values())
        print(f"\n{name} step, ms by phase (profiled, {total:.0f} ms in named phases):")
        for key, ms in sorted(phases.items(), key=lambda kv: -kv[1]):
            print(f"  {key:<24}{ms:>8.1f}  {100 * ms / total:>5.1f}%")
        print("  heaviest operators (self time, ms/step): " + ", ".join(
            f"{k} {ms:.0f}" for k, ms in operators[:6]))


if __name__ == "__main__":
    main()
