"""The built-in (Fashion-MNIST renders) training path, pinned to figures taken before
catalog training was added (issue 16).

A long built-in run may be resumed by newer code: its batches, random stream,
config defaults and saved-config migration must not move. The figures below were
computed by the code at commit 6d5c2a1 (one torch thread, this test's data).
Hashes cover numpy-only work (bit-exact anywhere); losses and weight sums come
from torch kernels, so they are compared to 1e-5 relative, far below what any
change of batches, order of random draws or loss terms would move them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch

from pigen.generator.config import GeneratorConfig
from pigen.generator.train import (
    build_training,
    checkpoint_dict,
    random_conditions,
    train,
    train_step,
)

FIRST_BATCH_SHA256 = "eec0812c85191c2f6780eedfd4f21332287481b120c397a421ae041f0057e04b"
STREAM_STATE_AFTER_3_SHA256 = "065fffaf40e12bbd38bd12d0e1e7b4c9ee313c8b4f232c5ec0ba29d99bc21f3c"
RANDOM_CONDITIONS_SHA256 = "e618aa0c47c8e81ceef293c71c7240d5757be1ffd3ca6ba17aa9b5f6a5cd17d0"
LOSSES_FIRST_3 = [(3.9973840713500977, 1.708733081817627),
                  (3.7694344520568848, 1.9700007438659668),
                  (3.5585179328918457, 2.1449646949768066)]
G_ABS_SUM_AFTER_3 = 1285.706521297212
D_ABS_SUM_AFTER_3 = 1207.7197831503727
OPAQUE_TARGET = 0.9596078431372549
# train 2 steps, kill, resume to 4: the metric rows the old code wrote
RESUMED_ROWS = [(2, 3.8834, 1.8394), (4, 3.4744, 2.2577)]
CHECKPOINT_KEYS = ["config", "cuda_rng", "discriminator", "elapsed_s", "ema", "format",
                   "generator", "layout", "opt_d", "opt_g", "step", "stream_state", "torch_rng"]
DEFAULTS = json.loads(
    '{"architecture": "parts", "resolution": 32, "z_dim": 128, "g_channels": 128, '
    '"condition_embedding": 128, "d_channels": 32, "minibatch_std": true, '
    '"noise_modulation": true, "background": [0.85, 0.85, 0.85], "texture_planes": 0, '
    '"g_padding": "zeros", "batch_size": 64, '
    '"lr_g": 0.0002, "lr_d": 0.0002, "beta1": 0.5, "beta2": 0.999, "d_steps": 1, '
    '"ema_decay": 0.999, "ema_start": 500, "colour_loss_weight": 10.0, '
    '"ground_colour_share": 0.5, '
    '"category_loss_weight": 0.5, "classifier_pooling": "sum", "pattern_loss_weight": 0.5, '
    '"augment": true, "d_blur_sigma": 0.0, "d_blur_steps": 0, '
    '"palette_fraction": 0.5, "colour_jitter": 0.08, "steps": 20000, '
    '"checkpoint_every": 500, "eval_every": 1000, "eval_images": 2000, "seed": 0, '
    '"device": "auto", "mixed_precision": true, "num_threads": 0}')
# what a file written before architectures had names migrates to
MIGRATED_OLD = {**DEFAULTS, "architecture": "dcgan", "minibatch_std": False,
                "background": [0.0, 0.0, 0.0], "category_loss_weight": 0.0,
                "classifier_pooling": "mean", "pattern_loss_weight": 0.0,
                "ground_colour_share": 0.0}


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _sha(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def test_first_batch_and_stream_are_unchanged(fashion_slice, layout, one_thread) -> None:
    shapes, labels = fashion_slice
    state = build_training(GeneratorConfig.tiny(), layout, shapes, labels)
    batch = state.stream.next_batch(8)
    assert batch.fake_conditions is None  # G is asked for the real renders' conditions
    assert _sha(*(t.numpy() for t in (batch.images, batch.conditions, batch.labels,
                                      batch.patterns, batch.colours))) == FIRST_BATCH_SHA256
    assert _sha(random_conditions(layout, 16, np.random.default_rng(3))) == \
        RANDOM_CONDITIONS_SHA256


def test_first_steps_are_unchanged(fashion_slice, layout, one_thread) -> None:
    shapes, labels = fashion_slice
    # pinned with the pattern classifier and ground share off: the code these values came from
    state = build_training(GeneratorConfig.tiny(pattern_loss_weight=0.0, ground_colour_share=0.0),
                           layout, shapes, labels)
    assert state.opaque_target == pytest.approx(OPAQUE_TARGET, abs=0)
    losses = [train_step(state) for _ in range(3)]
    for got, (loss_d, loss_g) in zip(losses, LOSSES_FIRST_3, strict=True):
        assert got["loss_d"] == pytest.approx(loss_d, rel=1e-5)
        assert got["loss_g"] == pytest.approx(loss_g, rel=1e-5)
    with torch.no_grad():
        g_sum = sum(float(p.double().abs().sum()) for p in state.generator.parameters())
        d_sum = sum(float(p.double().abs().sum()) for p in state.discriminator.parameters())
    assert g_sum == pytest.approx(G_ABS_SUM_AFTER_3, rel=1e-5)
    assert d_sum == pytest.approx(D_ABS_SUM_AFTER_3, rel=1e-5)
    stream_state = json.dumps(state.stream.state(), sort_keys=True).encode()
    assert hashlib.sha256(stream_state).hexdigest() == STREAM_STATE_AFTER_3_SHA256
    assert sorted(checkpoint_dict(state)) == CHECKPOINT_KEYS


def test_a_killed_and_resumed_run_writes_the_old_rows(tmp_path: Path, fashion_slice, layout,
                                                       one_thread) -> None:
    shapes, labels = fashion_slice
    config = GeneratorConfig.tiny(num_threads=1, pattern_loss_weight=0.0, ground_colour_share=0.0)
    train(config, tmp_path, shapes, labels, layout, progress=False, stop_after=2)
    result = train(config, tmp_path, shapes, labels, layout, progress=False, resume=True)
    rows = [(r["step"], r["loss_d"], r["loss_g"]) for r in result.metrics]
    assert [r[0] for r in rows] == [r[0] for r in RESUMED_ROWS]
    for got, want in zip(rows, RESUMED_ROWS, strict=True):
        assert got[1:] == pytest.approx(want[1:], abs=2e-4)  # rows hold 4 decimals


def test_config_defaults_and_migration_are_unchanged() -> None:
    assert GeneratorConfig().to_dict() == DEFAULTS
    assert GeneratorConfig.from_dict({"condition_embedding": 128, "resolution": 32}).to_dict() \
        == MIGRATED_OLD
    shipped = json.loads((Path(__file__).parents[2] / "configs" /
                          "generator_shipped.json").read_text())
    assert GeneratorConfig.from_dict(shipped).to_dict() == {
        **DEFAULTS, **shipped, "background": [0.85, 0.85, 0.85]}
