"""Training orchestration: build the state, step it, checkpoint it, resume it exactly.

A run lives in one folder::

    checkpoint.pt        latest training state (resumable), every N steps
    metrics.jsonl        one JSON row per evaluation (losses, judge metrics)
    samples/step-NNNNNN.png  EMA sample grid at each evaluation
    training.png         losses and metrics over steps, at the end
    generator.safetensors    the EMA generator, at the end (what ships)

Resuming loads ``checkpoint.pt`` — weights, optimisers, EMA, step and every
random state (the render stream's, torch's) — and drops metric rows written
after it, so a killed-and-resumed run ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pigen.data.conditions import ConditionLayout, one_hot_batch
from pigen.generator.augment import blur_sigma, gaussian_blur, rand_translation
from pigen.generator.checkpoint import load_checkpoint, save_checkpoint, save_generator
from pigen.generator.config import GeneratorConfig
from pigen.generator.device import channels_last, configure_cpu_threads, resolve_device
from pigen.generator.grids import save_condition_grid
from pigen.generator.losses import (
    colour_fidelity_loss,
    discriminator_hinge_loss,
    generator_hinge_loss,
    opacity_loss,
    real_opaque_level,
)
from pigen.generator.models import (
    Generator,
    PartsDiscriminator,
    PartsGenerator,
    Scores,
    build_discriminator,
    build_generator,
)
from pigen.generator.training_data import RenderStream, TrainingStream, draw_colours

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
METRICS = "metrics.jsonl"
FINAL_WEIGHTS = "generator.safetensors"

#: (n, rng) -> (n, D) conditions of the training distribution (batch-norm recalibration).
ConditionSampler = Callable[[int, np.random.Generator], np.ndarray]


@dataclass
class TrainingState:
    """Everything a training step reads and writes."""

    config: GeneratorConfig
    layout: ConditionLayout
    generator: Generator
    discriminator: nn.Module
    ema: Generator  # eval-mode copy whose weights trail the generator's
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    stream: TrainingStream
    device: torch.device
    step: int = 0
    elapsed_s: float = 0.0  # training time across resumes
    opaque_target: float = 1.0  # real shapes' top-1% opacity (colour_fidelity_loss)
    # The training distribution's conditions, for batch-norm recalibration; None:
    # the built-in mix (:func:`random_conditions`).
    condition_sampler: ConditionSampler | None = None
    # Whether solid conditions supervise the body colour (colour_fidelity_loss); a
    # layout without a "solid" pattern keeps the opacity term only.
    colour_supervised: bool = True

    @property
    def autocast(self) -> bool:
        return self.device.type == "cuda" and self.config.mixed_precision


def build_training(config: GeneratorConfig, layout: ConditionLayout, shapes: np.ndarray,
                   labels: np.ndarray, device: torch.device | None = None) -> TrainingState:
    """Fresh models and optimisers, seeded by ``config.seed``, on the built-in renders."""
    stream = RenderStream(shapes, labels, layout, seed=config.seed + 1,
                          resolution=config.resolution, palette_fraction=config.palette_fraction,
                          colour_jitter=config.colour_jitter, background=config.background)
    return build_training_on(config, layout, stream, real_opaque_level(shapes), device)


def build_training_on(config: GeneratorConfig, layout: ConditionLayout, stream: TrainingStream,
                      opaque_target: float, device: torch.device | None = None,
                      condition_sampler: ConditionSampler | None = None,
                      colour_supervised: bool = True) -> TrainingState:
    """Fresh models and optimisers, seeded by ``config.seed``, on any batch stream.

    The stream draws from its own numpy generator, so building it touches no torch
    random state: the models come out the same whichever stream feeds them.
    """
    device = device or resolve_device(config.device)
    torch.manual_seed(config.seed)
    generator = build_generator(config, layout).to(device)
    discriminator = build_discriminator(config, layout).to(device)
    # NHWC: tensor cores want it on CUDA; oneDNN's convolutions were ~10% faster with it
    # on this CPU too.
    generator = channels_last(generator)
    discriminator = channels_last(discriminator)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    betas = (config.beta1, config.beta2)
    # Fused Adam: one kernel over all parameters instead of a loop of small ops.
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr_g, betas=betas, fused=True)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas, fused=True)
    return TrainingState(config, layout, generator, discriminator, ema, opt_g, opt_d, stream,
                         device, opaque_target=opaque_target, condition_sampler=condition_sampler,
                         colour_supervised=colour_supervised)


def train_step(state: TrainingState) -> dict[str, float]:
    """``d_steps`` discriminator updates, one generator update, one EMA update.

    Where the time goes was measured (``bench/generator_training.py``), so each
    network runs as few passes as the losses need:

    * real and fake go through D as one batch (D has no batch statistics, so this
      is the same loss; one spectral-norm power iteration and bigger GEMMs);
    * the generator runs forward once: its images, detached, train D, then the
      same graph trains G against the updated D;
    * D's weights are frozen during G's backward (their gradients would be thrown away).
    """
    config, device = state.config, state.device
    g, d = state.generator, state.discriminator
    g.train()
    translate = _augment if config.augment else _identity
    sigma = blur_sigma(state.step, config.d_blur_sigma, config.d_blur_steps)

    def augment(x: torch.Tensor) -> torch.Tensor:  # what D sees: shifted, then blurred
        return gaussian_blur(translate(x), sigma)

    # The colour terms read the generator's layers (opacity, body), which "parts" has.
    parts_g = g if config.colour_loss_weight > 0 and isinstance(g, PartsGenerator) else None
    n = config.batch_size
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=state.autocast):
        # 1. the generator's images for this step's conditions (graph kept for step 3)
        for k in range(config.d_steps):
            with phase("render"):
                batch = state.stream.next_batch(n)
                real = batch.images.to(device, non_blocking=True)
                conditions = batch.conditions.to(device, non_blocking=True)
                # What G is asked for: the real images' own conditions (built-in
                # renders), or the stream's separate draw (a catalog's items + jitter).
                wanted = conditions if batch.fake_conditions is None else \
                    batch.fake_conditions.to(device, non_blocking=True)
            z = torch.randn(n, config.z_dim, device=device)
            last = k == config.d_steps - 1
            with phase("G forward"), torch.set_grad_enabled(last):
                if parts_g is not None:
                    alpha, body = parts_g.layers(z, wanted)
                    fake = parts_g.composite(alpha, body)
                else:
                    fake = g(z, wanted)  # (B, 3, R, R)
            # 2. discriminator: real images vs generated images of the asked conditions
            with phase("D forward"):
                both = torch.cat([augment(real), augment(fake.detach())])
                scores = _score(d, both, torch.cat([conditions, wanted]))
                loss_d = discriminator_hinge_loss(scores.logit[:n], scores.logit[n:])
                if scores.categories is not None:  # D learns to name the real shapes only
                    loss_d = loss_d + config.category_loss_weight * F.cross_entropy(
                        scores.categories[:n].float(), batch.labels.to(device))
                if scores.patterns is not None:  # ... and the real images' patterns
                    loss_d = loss_d + config.pattern_loss_weight * F.cross_entropy(
                        scores.patterns[:n].float(), _patterns(state.layout, conditions))
            with phase("D backward"):
                state.opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
            with phase("optimisers"):
                state.opt_d.step()
        # 3. generator: fool the updated D with the same images
        d.requires_grad_(False)
        with phase("D forward (G step)"):
            scores = _score(d, augment(fake), wanted)
            loss_g = generator_hinge_loss(scores.logit)
            if scores.categories is not None:  # ... and G to make shapes D names as requested
                requested = wanted[:, state.layout.category_slice].argmax(dim=1)
                loss_g = loss_g + config.category_loss_weight * F.cross_entropy(
                    scores.categories.float(), requested)
            if scores.patterns is not None:  # ... and patterns D names as requested
                loss_g = loss_g + config.pattern_loss_weight * F.cross_entropy(
                    scores.patterns.float(), _patterns(state.layout, wanted))
            if parts_g is not None:
                fidelity = colour_fidelity_loss(
                    alpha, body, wanted, state.layout, state.opaque_target,
                    config.ground_colour_share,
                ) if state.colour_supervised else opacity_loss(alpha, state.opaque_target)
                loss_g = loss_g + config.colour_loss_weight * fidelity
        with phase("G+D backward (G step)"):
            state.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
        with phase("optimisers"):
            state.opt_g.step()
        d.requires_grad_(True)
    # 4. EMA of the weights (a plain copy until ema_start)
    with phase("EMA"):
        update_ema(state.ema, g, 0.0 if state.step < config.ema_start else config.ema_decay)
    state.step += 1
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}


def _score(d: nn.Module, images: torch.Tensor, conditions: torch.Tensor) -> Scores:
    """D's realness logits and, where it has auxiliary classifiers, their logits."""
    if isinstance(d, PartsDiscriminator):
        return d.score(images, conditions)
    return Scores(d(images, conditions), None, None)


def _patterns(layout: ConditionLayout, conditions: torch.Tensor) -> torch.Tensor:
    """(B,) pattern index of one-hot conditions."""
    return conditions[:, layout.pattern_slice].argmax(dim=1)


def phase(name: str) -> torch.profiler.record_function:
    """A named span for ``torch.profiler`` (``bench/generator_training.py`` breaks a step
    down by these); costs microseconds when nobody profiles."""
    return torch.profiler.record_function(f"step/{name}")


def _augment(x: torch.Tensor) -> torch.Tensor:
    """DiffAugment translation; uncovered pixels become the image's own corner colour."""
    return rand_translation(x)


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


@torch.no_grad()
def update_ema(ema: nn.Module, model: nn.Module, decay: float) -> None:
    """ema = decay * ema + (1 - decay) * model, for parameters; buffers are copied."""
    for ema_p, p in zip(ema.parameters(), model.parameters(), strict=True):
        ema_p.lerp_(p.detach(), 1.0 - decay)
    for ema_b, b in zip(ema.buffers(), model.buffers(), strict=True):
        ema_b.copy_(b)


@torch.no_grad()
def recalibrate_batchnorm(model: Generator, layout: ConditionLayout, batches: int = 16,
                          batch_size: int = 256, seed: int = 12345,
                          conditions_for: ConditionSampler | None = None) -> None:
    """Re-estimate the batch-norm statistics for the EMA weights ("standing statistics").

    The EMA copy carries the live generator's running statistics, which belong to
    other weights; averaging over fresh training-distribution batches makes eval-mode
    samples match what the EMA weights actually produce. Seeded: same model, same stats.
    ``conditions_for(n, rng)`` draws the training distribution's conditions (default:
    the built-in mix, :func:`random_conditions`).
    """
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    noise = torch.Generator().manual_seed(seed)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    model.train()
    for _ in range(batches):
        conditions = (random_conditions(layout, batch_size, rng) if conditions_for is None
                      else conditions_for(batch_size, rng))
        z = torch.randn(batch_size, model.config.z_dim, generator=noise)
        model(z.to(device), torch.from_numpy(conditions).to(device))
    for norm in norms:
        norm.momentum = 0.1
    model.eval()


def random_conditions(layout: ConditionLayout, n: int, rng: np.random.Generator,
                      palette_fraction: float = 0.5, jitter: float = 0.08) -> np.ndarray:
    """(n, D) training-distribution conditions: one-hot category and pattern, drawn colour."""
    categories = rng.integers(layout.n_categories, size=n)
    colours = draw_colours(rng, n, palette_fraction, jitter)
    patterns = rng.integers(layout.n_patterns, size=n)
    return one_hot_batch(layout, categories, colours, patterns)


def checkpoint_dict(state: TrainingState) -> dict[str, Any]:
    """Everything needed to continue bit-for-bit; tensors, numbers and strings only."""
    return {
        "format": "pigen-training/1",
        "config": state.config.to_dict(),
        "layout": state.layout.to_dict(),
        "step": state.step,
        "elapsed_s": state.elapsed_s,
        "generator": state.generator.state_dict(),
        "discriminator": state.discriminator.state_dict(),
        "ema": state.ema.state_dict(),
        "opt_g": state.opt_g.state_dict(),
        "opt_d": state.opt_d.state_dict(),
        "stream_state": json.dumps(state.stream.state()),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore(state: TrainingState, checkpoint: dict[str, Any]) -> None:
    """Load a :func:`checkpoint_dict` into a freshly built state with the same config."""
    if checkpoint.get("format") != "pigen-training/1":
        raise ValueError("not a pigen training checkpoint")
    saved = GeneratorConfig.from_dict(checkpoint["config"])
    if _architecture(saved) != _architecture(state.config):
        raise ValueError("checkpoint was trained with another architecture: "
                         f"{_architecture(saved)} vs {_architecture(state.config)}")
    if ConditionLayout.from_dict(checkpoint["layout"]) != state.layout:
        raise ValueError("checkpoint was trained on another condition layout")
    state.generator.load_state_dict(checkpoint["generator"])
    _load_discriminator(state, checkpoint["discriminator"], checkpoint["opt_d"])
    state.ema.load_state_dict(checkpoint["ema"])
    state.opt_g.load_state_dict(checkpoint["opt_g"])
    state.stream.set_state(json.loads(checkpoint["stream_state"]))
    torch.set_rng_state(checkpoint["torch_rng"])
    if checkpoint["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(checkpoint["cuda_rng"])
    state.step = int(checkpoint["step"])
    state.elapsed_s = float(checkpoint["elapsed_s"])


def _load_discriminator(state: TrainingState, weights: dict[str, torch.Tensor],
                        optimiser: dict[str, Any]) -> None:
    """D and its optimiser; a pattern classifier the checkpoint lacks starts fresh.

    That is how a run is continued with ``pattern_loss_weight`` switched on. The
    classifier's parameters are D's last, so every saved Adam slot still belongs to
    the parameter it was saved for; the new ones get theirs at their first step.
    """
    d = state.discriminator
    head = getattr(d, "pattern_classifier", None)
    added = head is not None and not any(k.startswith("pattern_classifier.") for k in weights)
    if not added:
        d.load_state_dict(weights)
        state.opt_d.load_state_dict(optimiser)
        return
    missing, unexpected = d.load_state_dict(weights, strict=False)
    if unexpected or any(not k.startswith("pattern_classifier.") for k in missing):
        raise ValueError(f"checkpoint's discriminator does not match: missing {missing}, "
                         f"unexpected {unexpected}")
    n_params = len(list(d.parameters()))
    saved_group = optimiser["param_groups"][0]
    optimiser = {**optimiser, "param_groups": [{**saved_group, "params": list(range(n_params))}]}
    state.opt_d.load_state_dict(optimiser)
    log.info("the checkpoint has no pattern classifier: it starts fresh")


def _architecture(config: GeneratorConfig) -> tuple[object, ...]:
    return (config.architecture, config.resolution, config.z_dim, config.g_channels,
            config.condition_embedding, config.d_channels, config.minibatch_std,
            config.noise_modulation, config.background)


Evaluator = Callable[[Generator, int], dict[str, float]]


@dataclass
class RunResult:
    run_dir: Path
    steps: int
    elapsed_s: float
    weights: Path
    metrics: list[dict[str, Any]] = field(default_factory=list)


def train(config: GeneratorConfig, run_dir: Path, shapes: np.ndarray, labels: np.ndarray,
          layout: ConditionLayout, *, resume: bool = False, evaluator: Evaluator | None = None,
          progress: bool = True, stop_after: int | None = None) -> RunResult:
    """Train on the built-in renders to ``config.steps`` (or ``stop_after`` more steps).

    ``evaluator(ema_model, step) -> metrics`` runs at every evaluation (the judge's
    metrics); without it the rows hold losses only.
    """
    return run_training(config, run_dir, lambda: build_training(config, layout, shapes, labels),
                        resume=resume, evaluator=evaluator, progress=progress,
                        stop_after=stop_after)


def run_training(config: GeneratorConfig, run_dir: Path, build: Callable[[], TrainingState], *,
                 resume: bool = False, evaluator: Evaluator | None = None, progress: bool = True,
                 stop_after: int | None = None) -> RunResult:
    """The loop any training data shares: steps, evaluations, checkpoints, exact resume.

    ``build()`` makes the fresh state (models, optimisers, the batch stream); a
    resumed run loads the checkpoint into it.
    """
    from tqdm.auto import tqdm

    configure_cpu_threads(config.num_threads)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint_path = run_dir / CHECKPOINT
    if checkpoint_path.exists() and not resume:
        raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it "
                              "or choose another --run-dir")
    state = build()
    if resume and checkpoint_path.exists():
        restore(state, load_checkpoint(checkpoint_path))
        log.info("resumed %s at step %d", run_dir, state.step)
    _truncate_metrics(run_dir / METRICS, state.step)
    (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    end = config.steps if stop_after is None else min(config.steps, state.step + stop_after)
    running: dict[str, list[float]] = {"loss_d": [], "loss_g": []}
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress, unit="step",
               desc="training generator")
    started = time.perf_counter()
    while state.step < end:
        losses = train_step(state)
        for key, value in losses.items():
            running[key].append(value)
        bar.update(1)
        if state.step % 20 == 0:
            bar.set_postfix({k: f"{np.mean(v[-50:]):.3f}" for k, v in running.items()})
        last = state.step == end
        if state.step % config.eval_every == 0 or last:
            state.elapsed_s += time.perf_counter() - started
            started = time.perf_counter()
            row = _evaluate(state, running, evaluator, run_dir)
            running = {"loss_d": [], "loss_g": []}
            bar.write(json.dumps(row))
            started = time.perf_counter()
        if state.step % config.checkpoint_every == 0 or last:
            state.elapsed_s += time.perf_counter() - started
            started = time.perf_counter()
            save_checkpoint(checkpoint_dict(state), checkpoint_path)
    bar.close()
    weights = run_dir / FINAL_WEIGHTS
    rows = read_metrics(run_dir / METRICS)
    if state.step >= config.steps:
        ema = copy.deepcopy(state.ema).to("cpu")
        recalibrate_batchnorm(ema, state.layout, conditions_for=state.condition_sampler)
        final = rows[-1] if rows else {}
        save_generator(ema, state.layout, weights, metrics={
            "steps": state.step, "training_seconds": round(state.elapsed_s, 1),
            "device": str(state.device), **{k: v for k, v in final.items() if k != "step"}})
        from pigen.generator.plots import plot_training

        plot_training(rows, run_dir / "training.png")
    return RunResult(run_dir, state.step, state.elapsed_s, weights, rows)


def _evaluate(state: TrainingState, running: dict[str, list[float]],
              evaluator: Evaluator | None, run_dir: Path) -> dict[str, Any]:
    """Metrics row + sample grid from a BN-recalibrated copy of the EMA generator."""
    ema = copy.deepcopy(state.ema)
    recalibrate_batchnorm(ema, state.layout, batches=4, conditions_for=state.condition_sampler)
    row: dict[str, Any] = {"step": state.step, "elapsed_s": round(state.elapsed_s, 1)}
    row.update({k: round(float(np.mean(v)), 4) for k, v in running.items() if v})
    if evaluator is not None:
        row.update(evaluator(ema, state.step))
    save_condition_grid(ema, state.layout, run_dir / "samples" / f"step-{state.step:06d}.png")
    with open(run_dir / METRICS, "a") as handle:
        handle.write(json.dumps(row) + "\n")
    return row


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop rows a killed run wrote after its last checkpoint: resumed rows replace them."""
    rows = [r for r in read_metrics(path) if r["step"] <= step]
    if path.exists():
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
