"""A real (tiny) training run on real Fashion-MNIST shapes: steps, checkpoints, resume."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pigen.data.conditions import ConditionLayout
from pigen.generator.checkpoint import load_generator
from pigen.generator.config import GeneratorConfig
from pigen.generator.train import build_training, train, train_step


def test_train_step_updates_everything_and_reports_losses(fashion_slice, layout) -> None:
    shapes, labels = fashion_slice
    state = build_training(GeneratorConfig.tiny(), layout, shapes, labels)
    networks = {"generator": state.generator, "discriminator": state.discriminator,
                "ema": state.ema}
    before = {(net, name): p.detach().clone() for net, module in networks.items()
              for name, p in module.named_parameters()}
    metrics = train_step(state)
    assert set(metrics) == {"loss_d", "loss_g"} and all(np.isfinite(list(metrics.values())))
    assert state.step == 1
    train_step(state)  # G's output layer starts at zero: its inputs get gradients from step 2
    # Every parameter of both networks (and the EMA copy) moved: no part of the
    # condition, no layer, is left out of the graph.
    unchanged = [key for key, old in before.items()
                 if torch.equal(old, dict(networks[key[0]].named_parameters())[key[1]])]
    assert not unchanged, unchanged


def test_the_category_loss_reaches_both_networks(fashion_slice, layout) -> None:
    """Same seed, same data, two weights of the AC term. D's shared features move
    apart after one step (the cross-entropy on real shapes is in D's loss), and
    G's loss grows by the weight difference times a ~ln(10) cross-entropy (it is
    in G's loss): without the term both runs would be the same run."""
    shapes, labels = fashion_slice
    states = [build_training(GeneratorConfig.tiny(category_loss_weight=w), layout, shapes, labels)
              for w in (0.5, 2.0)]
    losses = [train_step(state) for state in states]
    assert losses[1]["loss_g"] - losses[0]["loss_g"] > 1.5 * 0.5 * np.log(10)
    low, high = states
    assert low.discriminator.classifier is not None

    def moved_apart(a: torch.nn.Module, b: torch.nn.Module) -> bool:
        return any(not torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(),
                                                          strict=True))

    assert moved_apart(low.discriminator.features, high.discriminator.features)
    assert moved_apart(low.generator, high.generator)
    # and the two runs are otherwise the same run: the same real batch came next
    assert torch.equal(low.stream.next_batch(4).images, high.stream.next_batch(4).images)


def test_a_run_writes_weights_samples_metrics_and_plot(tmp_path: Path, fashion_slice,
                                                       layout) -> None:
    shapes, labels = fashion_slice
    result = train(GeneratorConfig.tiny(), tmp_path, shapes, labels, layout, progress=False)
    assert result.steps == 4
    assert load_generator(result.weights).config == GeneratorConfig.tiny()
    assert (tmp_path / "samples" / "step-000002.png").exists()
    assert (tmp_path / "training.png").exists()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]


def test_an_existing_run_is_not_overwritten_without_resume(tmp_path: Path, fashion_slice,
                                                           layout) -> None:
    shapes, labels = fashion_slice
    train(GeneratorConfig.tiny(steps=2), tmp_path, shapes, labels, layout, progress=False)
    with pytest.raises(FileExistsError, match="--resume"):
        train(GeneratorConfig.tiny(steps=2), tmp_path, shapes, labels, layout, progress=False)


def test_resume_continues_the_same_run_exactly(tmp_path: Path, fashion_slice,
                                               layout: ConditionLayout) -> None:
    shapes, labels = fashion_slice
    config = GeneratorConfig.tiny(steps=6, checkpoint_every=3, eval_every=3)
    straight = train(config, tmp_path / "straight", shapes, labels, layout, progress=False)
    # A run that stops after its step-3 checkpoint (as if killed), then resumes.
    train(config, tmp_path / "resumed", shapes, labels, layout, progress=False, stop_after=3)
    resumed = train(config, tmp_path / "resumed", shapes, labels, layout, progress=False,
                    resume=True)
    a = load_generator(straight.weights).model.state_dict()
    b = load_generator(resumed.weights).model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in resumed.metrics] == [3, 6]
    assert [r["loss_d"] for r in resumed.metrics] == [r["loss_d"] for r in straight.metrics]


def test_a_run_resumed_with_the_pattern_classifier_keeps_everything_else(
        tmp_path: Path, fashion_slice, layout: ConditionLayout) -> None:
    """Switching the pattern term on at a resume: the classifier starts fresh, every
    other weight and Adam slot is the checkpoint's, and both networks then train on
    the new term (the resumed run differs from one continued without it)."""
    shapes, labels = fashion_slice
    before = GeneratorConfig.tiny(steps=2, pattern_loss_weight=0.0)
    train(before, tmp_path / "a", shapes, labels, layout, progress=False)
    train(before, tmp_path / "b", shapes, labels, layout, progress=False)
    plain = train(before.replace(steps=3), tmp_path / "a", shapes, labels, layout,
                  progress=False, resume=True)
    with_patterns = train(GeneratorConfig.tiny(steps=3, pattern_loss_weight=1.0), tmp_path / "b",
                          shapes, labels, layout, progress=False, resume=True)
    a = load_generator(plain.weights).model.state_dict()
    b = load_generator(with_patterns.weights).model.state_dict()
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the new term reached G
    saved = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)
    assert "pattern_classifier.weight" in saved["discriminator"]
    head = len(saved["opt_d"]["param_groups"][0]["params"]) - 1
    assert saved["opt_d"]["state"][head]["step"] == 1  # one step since it was added
    assert saved["opt_d"]["state"][0]["step"] == 3


def test_resume_refuses_another_architecture(tmp_path: Path, fashion_slice, layout) -> None:
    shapes, labels = fashion_slice
    train(GeneratorConfig.tiny(steps=2), tmp_path, shapes, labels, layout, progress=False)
    with pytest.raises(ValueError, match="another architecture"):
        train(GeneratorConfig.tiny(steps=4, g_channels=64), tmp_path, shapes, labels, layout,
              progress=False, resume=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_bf16_training_on_cuda(fashion_slice, layout) -> None:
    shapes, labels = fashion_slice
    state = build_training(GeneratorConfig.tiny(device="cuda"), layout, shapes, labels)
    assert state.autocast
    metrics = [train_step(state) for _ in range(3)]
    assert all(np.isfinite(m["loss_d"]) for m in metrics)


def test_64px_models_train_too(fashion_slice, layout) -> None:
    """Users' own catalogs may want 64x64: the renders are upscaled to match."""
    shapes, labels = fashion_slice
    state = build_training(GeneratorConfig.tiny(resolution=64), layout, shapes, labels)
    assert state.stream.next_batch(2).images.shape == (2, 3, 64, 64)
    assert np.isfinite(train_step(state)["loss_d"])
