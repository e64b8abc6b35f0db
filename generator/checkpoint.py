"""One checkpoint format for resuming, one weight format for inference.

* Training checkpoints (``.pt``): generator, discriminator, EMA generator, both
  optimisers, the step, every random state and the config, in one dict saved with
  ``torch.save`` and read back with ``torch.load(weights_only=True)`` — tensors,
  numbers and strings only, nothing that can run code.
* Inference weights (``.safetensors``): the EMA generator alone, with its config
  and condition layout as JSON in the file's metadata. This is what ships, what
  the model registry points at, and what the service loads.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load as load_bytes
from safetensors.torch import load_file, save_file

from pigen.data.conditions import ConditionLayout
from pigen.generator.config import GeneratorConfig
from pigen.generator.models import Generator, build_generator
from pigen.generator.sampling import prepare_for_inference

FORMAT = "pigen-generator/1"


@dataclass(frozen=True)
class LoadedGenerator:
    """An inference-ready (eval mode) EMA generator and what it was trained on."""

    model: Generator
    config: GeneratorConfig
    layout: ConditionLayout
    path: Path
    sha256: str  # of the weight file: what a provenance record names
    metrics: dict[str, Any]

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def save_generator(model: Generator, layout: ConditionLayout, path: Path,
                   metrics: dict[str, Any] | None = None) -> Path:
    """Write the generator's weights, config and layout to one ``.safetensors`` file."""
    if model.condition_size != layout.size:
        raise ValueError(f"model takes {model.condition_size} condition values, "
                         f"layout has {layout.size}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "format": FORMAT,
        "config": json.dumps(model.config.to_dict(), sort_keys=True),
        "layout": json.dumps(layout.to_dict(), sort_keys=True),
        "metrics": json.dumps(metrics or {}, sort_keys=True),
    }
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    os.replace(tmp, path)  # readers never see half a file
    return path


def load_generator(path: Path, device: str | torch.device = "cpu",
                   data: bytes | None = None) -> LoadedGenerator:
    """Read a ``.safetensors`` generator; ``ValueError`` on anything that does not fit.

    The file is parsed by safetensors (no code execution); the state dict must
    match the architecture its own config describes, key for key and shape for shape.
    ``data``, when given, is the file's bytes already read: a caller that checked
    their sha256 gets a model parsed from exactly those bytes, whatever the file
    on disk holds by now.
    """
    path = Path(path)
    if data is None and not path.is_file():
        raise FileNotFoundError(f"generator weights {path} not found")
    metadata = _metadata(path) if data is None else _metadata_from_bytes(path, data)
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a pigen generator file (format "
                         f"{metadata.get('format')!r}, expected {FORMAT!r})")
    try:
        config = GeneratorConfig.from_dict(json.loads(metadata["config"]))
        layout = ConditionLayout.from_dict(json.loads(metadata["layout"]))
        metrics = json.loads(metadata.get("metrics", "{}"))
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: bad generator metadata ({exc})") from exc
    model = build_generator(config, layout)
    state = load_file(str(path)) if data is None else load_bytes(data)
    expected = model.state_dict()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise ValueError(f"{path}: weights do not fit the architecture "
                         f"(missing {missing[:5]}, unexpected {extra[:5]})")
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape:
            raise ValueError(f"{path}: {key} has shape {tuple(tensor.shape)}, "
                             f"expected {tuple(expected[key].shape)}")
    model.load_state_dict(state)
    # Every loaded model is prepared the same way (eval, NHWC), so the service,
    # campaigns and the CLI all run the same kernels: same bytes.
    model = prepare_for_inference(model.to(device))
    sha256 = file_sha256(path) if data is None else hashlib.sha256(data).hexdigest()
    return LoadedGenerator(model, config, layout, path, sha256, metrics)


def _metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return handle.metadata() or {}


def _metadata_from_bytes(path: Path, data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file in memory (an 8-byte length, then JSON)."""
    try:
        length = int.from_bytes(data[:8], "little")
        if len(data) < 8 or length > len(data) - 8:
            raise ValueError("header runs past the end of the file")
        header = json.loads(data[8:8 + length])
        metadata = header.get("__metadata__") or {}
        if not isinstance(metadata, dict):
            raise ValueError("__metadata__ is not an object")
    except (ValueError, UnicodeDecodeError, AttributeError) as error:
        raise SafetensorError(f"{path.name}: not a safetensors file ({error})") from None
    return {str(key): str(value) for key, value in metadata.items()}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def save_checkpoint(state: dict[str, Any], path: Path) -> None:
    """Atomically write a training checkpoint (write to a temp file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Read a training checkpoint with ``weights_only=True`` (no pickled code)."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    return torch.load(path, map_location="cpu", weights_only=True)
