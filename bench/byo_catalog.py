"""Bring your own catalog: pigen on a store's photos it has never seen, without labels.

Stages (each timed, each with a progress bar where it is long):

1. **photos** — ``bench/foreign_recipe.py`` writes N product photos made from
   Fashion-MNIST *test* shapes with a recipe that is not pigen's (its own eight
   dyes; solid, herringbone, zigzag and gradient textures; light backdrops,
   random margins, 48-160 px canvases of random aspect, JPEG at quality 60-95),
   plus ``catalog.csv`` (item_id, category, image). The true colours and
   textures go to ``truth.csv``, which is never ingested.
2. **ingest** — ``ingest_catalog`` with ``images_dir`` into a fresh SQLite store
   (what ``pigen ingest catalog --images DIR`` does).
3. **extract** — ``extract_catalog_attributes`` with the store's palette (a
   store knows its dye names; the colour itself is measured, not named), K
   chosen by pigen's criterion unless ``--k``.
4. **score extraction** — body colour Delta-E (CIE76, extracted RGB vs the
   dye) median and p90; texture adjusted Rand index of pigen's groups vs the
   true textures (computed here, not with pigen's own function).
5. **train** (``--train-steps N``, 0 skips it) — ``pigen generator train
   --catalog`` at 64 px on the store; then two instruments trained on other
   foreign photos (``bench/byo_judges.py``): a category judge, and a texture
   classifier on the recipe's TRUE textures. Each scores the catalog's real
   photos and one generated image per catalog item, conditioned on that
   item's category and its *extracted* colour and texture group; the ratio
   generated / real is what the targets read.

Targets: colour Delta-E median <= 5; texture ARI >= 0.8; generated category
accuracy >= 0.9x real; generated texture accuracy >= 0.85x real.

    python bench/byo_catalog.py [--items 400] [--seed 0] [--train-steps 200]
                                [--json out.json] [--keep DIR]
    python bench/byo_catalog.py --reuse DIR --weights DIR/run/generator.safetensors

The second form scores a generator trained apart (``pigen generator train
--catalog`` on the kept store, checkpointed and resumable: a long run) on the
kept catalog, without rebuilding or re-extracting it.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from foreign_recipe import (  # noqa: E402
    CATEGORIES,
    FOREIGN_PALETTE,
    TEXTURES,
    ForeignCatalog,
    ForeignItem,
    build_foreign_catalog,
    draw_items,
    read_truth,
    render_set,
)

TARGETS = {  # name -> (comparison, threshold)
    "colour_delta_e_median": ("<=", 5.0),
    "texture_ari": (">=", 0.8),
    "category_accuracy_ratio": (">=", 0.9),
    "texture_accuracy_ratio": (">=", 0.85),
}
EVAL_IMAGES = 256  # the trainer's own end-of-run figures (the bench's are its own)
TRAINING_UNAVAILABLE = ("`pigen generator train --catalog` is not available in this checkout; "
                        "the training stage cannot run (run with --train-steps 0)")


@dataclass
class Stages:
    """Seconds per stage, in the order they ran."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, work: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        result = work()
        self.seconds[name] = round(time.perf_counter() - started, 1)
        return result


@dataclass(frozen=True)
class Extracted:
    """What pigen stored for one catalog item after extraction."""

    item_id: str
    category: str
    colour: str | None  # #rrggbb
    colour_name: str | None
    pattern: str | None
    texture_group: int | None


# --- scoring, independent of the code under test ----------------------------------------


def adjusted_rand_index(truth: Sequence[object], found: Sequence[object]) -> float:
    """Hubert-Arabie ARI of two labelings of the same items (1: same partition, ~0: chance)."""
    _, t = np.unique(np.asarray(list(truth), dtype=str), return_inverse=True)
    _, f = np.unique(np.asarray(list(found), dtype=str), return_inverse=True)
    table = np.zeros((t.max() + 1, f.max() + 1), dtype=np.int64)
    np.add.at(table, (t, f), 1)

    def pairs(counts: np.ndarray) -> float:
        return float((counts * (counts - 1) // 2).sum())

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([len(t)]))
    maximum = (rows + cols) / 2
    return 1.0 if maximum == expected else (index - expected) / (maximum - expected)


def score_extraction(truth: Sequence[ForeignItem], extracted: dict[str, Extracted]
                     ) -> dict[str, Any]:
    """Colour Delta-E and texture ARI of the extracted attributes against the truth."""
    from pigen.data.catalog.palette import delta_e76, from_hex

    scored = [(t, extracted[t.item_id]) for t in truth
              if t.item_id in extracted and extracted[t.item_id].colour is not None]
    if not scored:
        raise SystemExit("extraction stored no colour for any item: nothing to score")
    true_rgb = np.array([from_hex(t.colour) for t, _ in scored])
    found_rgb = np.array([from_hex(e.colour) for _, e in scored])  # type: ignore[arg-type]
    delta_e = delta_e76(true_rgb, found_rgb)
    textures = np.array([t.texture for t, _ in scored])
    grouped = [(t.texture, e.texture_group) for t, e in scored if e.texture_group is not None]
    groups = sorted({g for _, g in grouped})
    table = {texture: [sum(1 for tt, g in grouped if tt == texture and g == group)
                       for group in groups] for texture in TEXTURES}
    return {
        "items": len(truth),
        "scored": len(scored),
        "unscored": len(truth) - len(scored),
        "colour_delta_e_median": float(np.median(delta_e)),
        "colour_delta_e_p90": float(np.percentile(delta_e, 90)),
        "colour_delta_e_median_by_texture": {
            texture: float(np.median(delta_e[textures == texture]))
            for texture in TEXTURES if np.any(textures == texture)},
        "colour_name_accuracy": float(np.mean(
            [e.colour_name == t.colour_name for t, e in scored])),
        "texture_ari": adjusted_rand_index([t for t, _ in grouped], [g for _, g in grouped])
        if grouped else float("nan"),
        "texture_groups": len(groups),
        "texture_table": {"groups": groups, "rows": table},
    }


# --- stages ---------------------------------------------------------------------------


def open_store(folder: Path):  # type: ignore[no-untyped-def]
    """A fresh, migrated SQLite store in ``folder``: (engine, url)."""
    from pigen.data.database import make_engine
    from pigen.data.migrate import upgrade_database

    url = f"sqlite:///{folder / 'pigen.db'}"
    engine = make_engine(url)
    upgrade_database(engine)
    return engine, url


def read_extracted(engine) -> dict[str, Extracted]:  # type: ignore[no-untyped-def]
    """Every item's stored attributes, by external id."""
    from sqlalchemy import select

    from pigen.data.schema import Item

    with engine.connect() as connection:
        rows = connection.execute(select(Item.external_id, Item.category, Item.colour,
                                         Item.colour_name, Item.pattern, Item.attributes))
        out = {}
        for row in rows:
            found = (row.attributes or {}).get("extracted", {})
            group = found.get("texture_group")
            out[row.external_id] = Extracted(
                row.external_id, row.category, found.get("colour", row.colour),
                found.get("colour_name", row.colour_name), row.pattern,
                None if group is None else int(group))
    return out


def training_available() -> bool:
    """Whether this checkout's ``pigen generator train`` has ``--catalog``."""
    result = subprocess.run([sys.executable, "-m", "pigen.service.cli", "generator", "train",
                             "--help"], capture_output=True, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    return result.returncode == 0 and "--catalog" in result.stdout


def train_generator(url: str, store_dir: Path, run_dir: Path, steps: int, threads: int,
                    overrides: Sequence[str]) -> Path:
    """``pigen generator train --catalog`` on the store; returns the weights' path.

    Items extraction could not read (no colour) are left out (``--skip-incomplete``);
    one evaluation and one checkpoint, at the end. ``overrides`` come last and win.
    """
    settings = [f"steps={steps}", f"num_threads={threads}", f"eval_every={steps}",
                f"checkpoint_every={steps}", f"eval_images={EVAL_IMAGES}", *overrides]
    command = [sys.executable, "-m", "pigen.service.cli", "generator", "train", "--catalog",
               "--skip-incomplete", "--run-dir", str(run_dir),
               *(part for pair in settings for part in ("--set", pair))]
    env = {**os.environ, "PIGEN_DATABASE_URL": url, "PIGEN_STORAGE_DIR": str(store_dir)}
    print("  $ " + " ".join(command[1:]), flush=True)
    result = subprocess.run(command, env=env, cwd=store_dir)
    weights = run_dir / "generator.safetensors"
    if result.returncode != 0 or not weights.is_file():
        raise SystemExit(f"generator training failed (exit {result.returncode}); no {weights}")
    return weights


def prepare_bytes(photos: Sequence[bytes], progress: bool, desc: str
                  ) -> tuple[np.ndarray, list[int]]:
    """(N_ok, 64, 64, 3) prepared photos and which inputs they are (pigen's framing)."""
    from tqdm.auto import tqdm

    from pigen.data.catalog.prepare import UnusableImage, prepare_image

    images, kept = [], []
    for index, data in enumerate(tqdm(photos, desc=desc, unit="photo", disable=not progress)):
        try:
            images.append(prepare_image(data, 64).rgb)
        except UnusableImage:
            continue
        kept.append(index)
    return np.stack(images), kept


def generated_accuracy(args: argparse.Namespace, folder: Path, url: str, images_dir: Path,
                       truth: Sequence[ForeignItem], extracted: dict[str, Extracted],
                       shapes: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Train on the catalog, then judge generated images against real photos."""
    import torch
    from byo_judges import ClassifierConfig, accuracy, predict, to_tensor, train_classifier

    from pigen.data.catalog.palette import from_hex
    from pigen.generator.checkpoint import load_generator
    from pigen.generator.sampling import sample

    progress = not args.no_progress
    weights = args.weights or train_generator(url, folder, folder / "run", args.train_steps,
                                              args.threads, args.train_set)
    loaded = load_generator(weights)
    layout = loaded.layout

    # Instruments: trained on other test shapes' foreign photos, never the catalog's.
    exclude = [t.shape_index for t in truth]
    draws = draw_items(shapes, labels, args.judge_items, args.seed + 7, exclude=exclude)
    photos = render_set(shapes, draws, args.seed + 8, progress=progress,
                        desc="instrument photos")
    train_images, kept = prepare_bytes(photos, progress, "preparing instrument photos")
    train_x = to_tensor(train_images)
    config = ClassifierConfig(epochs=args.judge_epochs, seed=args.seed)
    category_labels = np.array([CATEGORIES.index(draws[i][1]) for i in kept])
    texture_labels = np.array([TEXTURES.index(draws[i][3]) for i in kept])
    judge = train_classifier(train_x, category_labels, len(CATEGORIES), config, progress,
                             "category judge")
    texture_judge = train_classifier(train_x, texture_labels, len(TEXTURES), config, progress,
                                     "texture classifier")

    # Real: the catalog's own photos. Generated: one image per item, in its layout.
    usable = [t for t in truth if extracted.get(t.item_id) and extracted[t.item_id].colour
              and extracted[t.item_id].pattern in layout.patterns
              and t.category in layout.categories]
    real_photos = [(images_dir / t.image).read_bytes() for t in usable]
    real_images, real_kept = prepare_bytes(real_photos, progress, "preparing catalog photos")
    real_x = to_tensor(real_images)
    real_truth = [usable[i] for i in real_kept]
    conditions = np.zeros((len(usable), layout.size), dtype=np.float32)
    for row, t in enumerate(usable):
        e = extracted[t.item_id]
        conditions[row, layout.category_slice][layout.category_index(t.category)] = 1.0
        conditions[row, layout.colour_slice] = from_hex(e.colour)  # type: ignore[arg-type]
        conditions[row, layout.pattern_slice][layout.pattern_index(e.pattern)] = 1.0  # type: ignore[arg-type]
    seeds = np.arange(len(usable), dtype=np.int64) + args.seed * 1_000_003
    with torch.inference_mode():
        generated_x = sample(loaded.model, conditions, seeds)
    if generated_x.shape[-1] != 64:
        generated_x = torch.nn.functional.interpolate(generated_x, size=(64, 64), mode="area")

    def scores(x: torch.Tensor, items: Sequence[ForeignItem]
               ) -> tuple[float, float, dict[str, list[int]]]:
        textures = predict(texture_judge, x)
        truth = [TEXTURES.index(t.texture) for t in items]
        return (accuracy(predict(judge, x), [CATEGORIES.index(t.category) for t in items]),
                accuracy(textures, truth), texture_confusion(truth, textures))

    real_category, real_texture, real_confusion = scores(real_x, real_truth)
    generated_category, generated_texture, generated_confusion = scores(generated_x, usable)
    save_grid(generated_x, folder / "generated.png")
    return {
        "train_steps": loaded.metrics.get("steps", args.train_steps) if args.weights
        else args.train_steps, "weights": str(weights),
        "layout": {"categories": list(layout.categories), "patterns": list(layout.patterns)},
        "instrument_photos": len(kept), "judged_items": len(usable),
        "category_accuracy_real": real_category,
        "category_accuracy_generated": generated_category,
        "category_accuracy_ratio": generated_category / max(real_category, 1e-9),
        "texture_accuracy_real": real_texture,
        "texture_accuracy_generated": generated_texture,
        "texture_accuracy_ratio": generated_texture / max(real_texture, 1e-9),
        # What the classifier reads, true texture -> counts per read texture: which
        # prints the generator draws, and which it draws as another.
        "texture_read_real": real_confusion, "texture_read_generated": generated_confusion,
    }


def texture_confusion(truth: Sequence[int], read: np.ndarray) -> dict[str, list[int]]:
    """{true texture: [items read as each of TEXTURES]}."""
    counts = np.zeros((len(TEXTURES), len(TEXTURES)), dtype=np.int64)
    np.add.at(counts, (np.asarray(truth, dtype=np.int64), np.asarray(read, dtype=np.int64)), 1)
    return {name: [int(c) for c in row] for name, row in zip(TEXTURES, counts, strict=True)}


def save_grid(images: Any, path: Path, columns: int = 16) -> None:
    """First rows of (N, 3, R, R) images as one PNG, for a look."""
    from PIL import Image

    pixels = (images[: columns * 8].permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    n, r = len(pixels), pixels.shape[1] if len(pixels) else 0
    if not n:
        return
    rows = -(-n // columns)
    sheet = np.full((rows * r, columns * r, 3), 255, dtype=np.uint8)
    for k, tile in enumerate(pixels):
        sheet[(k // columns) * r:(k // columns + 1) * r, (k % columns) * r:(k % columns + 1) * r] \
            = tile
    Image.fromarray(sheet).save(path)


# --- report ---------------------------------------------------------------------------


def target_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, met) for the table."""
    extraction, training = results["extraction"], results.get("training") or {}

    def met(name: str, value: float) -> str:
        comparison, threshold = TARGETS[name]
        ok = value <= threshold if comparison == "<=" else value >= threshold
        return "yes" if ok else "NO"

    rows = [
        ("colour Delta-E (CIE76) median", f"{extraction['colour_delta_e_median']:.2f}",
         "<= 5", met("colour_delta_e_median", extraction["colour_delta_e_median"])),
        ("colour Delta-E (CIE76) p90", f"{extraction['colour_delta_e_p90']:.2f}", "-", "-"),
        ("colour name = dye", f"{extraction['colour_name_accuracy']:.3f}", "-", "-"),
        ("texture ARI vs true textures", f"{extraction['texture_ari']:.3f}", ">= 0.8",
         met("texture_ari", extraction["texture_ari"])),
        ("texture groups found (true: 4)", str(extraction["texture_groups"]), "-", "-"),
    ]
    if "category_accuracy_ratio" in training:
        for part, target in (("category", "0.9"), ("texture", "0.85")):
            real, generated = (training[f"{part}_accuracy_real"],
                               training[f"{part}_accuracy_generated"])
            ratio = training[f"{part}_accuracy_ratio"]
            rows.append((f"generated {part} accuracy (real)", f"{generated:.3f} ({real:.3f}) = "
                         f"{ratio:.2f}x", f">= {target}x real",
                         met(f"{part}_accuracy_ratio", ratio)))
    else:
        reason = training.get("skipped", "not run")
        rows.append(("generated category / texture accuracy", "not measured", reason, "-"))
    return rows


def print_report(results: dict[str, Any]) -> None:
    extraction = results["extraction"]
    print(f"\nforeign catalog: {results['items']} items, seed {results['seed']}; "
          f"{extraction['scored']} scored, {extraction['unscored']} without an extracted "
          "colour")
    print("\n| measure | value | target | met |\n|---|---|---|---|")
    for row in target_rows(results):
        print("| " + " | ".join(row) + " |")
    print("\ncolour Delta-E median by true texture: " + ", ".join(
        f"{t} {v:.2f}" for t, v in extraction["colour_delta_e_median_by_texture"].items()))
    table = extraction["texture_table"]
    print_counts("true texture x pigen's group (items)",
                 [f"group {g}" for g in table["groups"]], table["rows"])
    training = results.get("training") or {}
    for source in ("real", "generated"):
        read = training.get(f"texture_read_{source}")
        if read:
            print_counts(f"true texture x texture read on {source} images (items)",
                         [f"read {t}" for t in TEXTURES], read)
    print("\nstage seconds: " + ", ".join(f"{k} {v}" for k, v in results["seconds"].items()))


def print_counts(title: str, columns: Sequence[str], rows: dict[str, list[int]]) -> None:
    """A titled markdown table of counts, one row per true texture."""
    print(f"\n{title}\n")
    print("| texture | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for texture, counts in rows.items():
        print(f"| {texture} | " + " | ".join(str(c) for c in counts) + " |")


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=400, help="photos in the foreign catalog")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, help="texture groups (default: pigen chooses K)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--encoder-steps", type=int,
                        help="texture encoder training steps (default: pigen's default)")
    parser.add_argument("--train-steps", type=int, default=200,
                        help="generator steps on the catalog (0: skip training and the "
                             "generated-image measures; the default is a CPU smoke, far "
                             "from a trained generator)")
    parser.add_argument("--train-set", action="append", default=[], metavar="NAME=VALUE",
                        help="extra generator config override for the training stage")
    parser.add_argument("--judge-items", type=int, default=3000,
                        help="foreign photos the two instruments train on")
    parser.add_argument("--judge-epochs", type=int, default=8)
    parser.add_argument("--keep", type=Path, help="write the catalog and store here "
                                                  "(default: a temporary folder)")
    parser.add_argument("--reuse", type=Path, metavar="DIR",
                        help="a kept folder (--keep) whose catalog and extraction to score "
                             "again, without rebuilding or re-extracting")
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="score these catalog generator weights (trained on the --reuse "
                             "folder's store, e.g. by `pigen generator train --catalog`) "
                             "instead of training")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.items < 8:
        parser.error("--items must be at least 8")
    if args.reuse and not (args.reuse / "catalog" / "truth.csv").is_file():
        parser.error(f"--reuse {args.reuse}: no catalog/truth.csv there (not a --keep folder)")
    if args.weights and not args.weights.is_file():
        parser.error(f"--weights {args.weights}: no such file")
    if args.weights and not args.reuse:
        parser.error("--weights needs --reuse: the weights must come from that folder's store")
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with tempfile.TemporaryDirectory(prefix="pigen-byo-") as scratch:
        folder = args.reuse or args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = run(args, folder.resolve())
    print_report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return results


def run(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """All stages in ``folder``; the results as plain data."""
    from pigen.data.catalog.extract import extract_catalog_attributes
    from pigen.data.catalog.texture import TextureEncoderConfig
    from pigen.data.datasets.fashion_mnist import load_fashion_mnist
    from pigen.data.ingest.catalog import CatalogOptions, ingest_catalog

    progress = not args.no_progress
    stages = Stages()
    if args.train_steps and not args.weights and not training_available():
        raise SystemExit(TRAINING_UNAVAILABLE)
    test = load_fashion_mnist("test")
    if args.reuse:  # the kept folder's photos, store and extraction, as they are
        truth = read_truth(folder / "catalog" / "truth.csv")
        catalog = ForeignCatalog(folder / "catalog" / "catalog.csv",
                                 folder / "catalog" / "truth.csv",
                                 folder / "catalog" / "images", tuple(truth))
        engine, url = open_store(folder)
        args.items = len(truth)
    else:
        catalog = stages.run("photos", lambda: build_foreign_catalog(
            folder / "catalog", test.images, test.labels, args.items, args.seed, progress))
        engine, url = open_store(folder)
        report = stages.run("ingest", lambda: ingest_catalog(
            engine, catalog.catalog_csv, CatalogOptions(images_dir=catalog.images_dir)))
        print(f"  ingested {report.inserted} items", flush=True)
        encoder = TextureEncoderConfig(
            num_threads=args.threads, seed=args.seed,
            **({"steps": args.encoder_steps} if args.encoder_steps else {}))
        stages.run("extract", lambda: extract_catalog_attributes(
            engine, cache_dir=folder / "extraction", palette=FOREIGN_PALETTE, k=args.k,
            encoder_config=encoder, progress=progress))
    extracted = read_extracted(engine)
    results: dict[str, Any] = {
        "items": args.items, "seed": args.seed, "k": args.k,
        "extraction": score_extraction(catalog.items, extracted),
    }
    if args.train_steps or args.weights:
        results["training"] = stages.run("train", lambda: generated_accuracy(
            args, folder, url, catalog.images_dir, catalog.items, extracted, test.images,
            test.labels))
    else:
        results["training"] = {"skipped": "--train-steps 0"}
    engine.dispose()
    results["seconds"] = stages.seconds
    results["targets"] = {name: f"{c} {v}" for name, (c, v) in TARGETS.items()}
    return results


if __name__ == "__main__":
    main()
