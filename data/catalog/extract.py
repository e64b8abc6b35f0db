"""Colour and texture for a stored catalog's items, from their own images; labels win.

Steps: read the items with an image -> prepare the images (unusable ones reported
with their reason; ``strict`` refuses the run instead) -> body colour per item
(:mod:`~pigen.data.catalog.colour_clusters`) -> a texture encoder trained on the
catalog's own images, its features and classical texture statistics
(:mod:`~pigen.data.catalog.texture_stats`) grouped into K textures
(:mod:`~pigen.data.catalog.texture`) -> one transaction that fills only the gaps.

A value the catalog carries (``colour``, ``colour_name``, ``pattern``) is a label and
is kept; a value an earlier extraction wrote (``attributes["extracted"]`` says its
source was ``"extracted"``) is not a label and is replaced. The report gives the
agreement of extraction with the labelled part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, select, update

from pigen.data.catalog.colour_clusters import BodyColour, body_colour, nearest_name
from pigen.data.catalog.palette import RGB, delta_e76, from_hex
from pigen.data.catalog.prepare import DEFAULT_RESOLUTION
from pigen.data.catalog.prepared_cache import prepare_cached
from pigen.data.schema import Item

ENCODER_FILE = "texture_encoder.safetensors"
GROUPS_FILE = "texture_groups.json"
PREPARED_FILE = "prepared.npz"
MIN_TEXTURE_ITEMS = 8  # fewer usable images than this: no texture groups, colour only
# The encoder's block against each of the three blocks of classical statistics. On
# a foreign catalog (bench/byo_catalog.py --items 300 --seed 0) texture ARI was 0.41
# from the encoder alone, 0.72 from the statistics alone and 0.72 from both at
# 0.5 : 1 : 1 : 1 (seed 1: 0.50, 0.68, 0.72); weight 1 gave 0.70, 2 gave 0.64: a
# heavier encoder block splits plain products by dye and shape detail.
LEARNED_WEIGHT = 0.5


@dataclass(frozen=True)
class ExtractionReport:
    """What an extraction did, and how it agrees with the labels."""

    items: int  # items with an image
    prepared: int
    skipped: dict[str, str] = field(default_factory=dict)  # external id -> why unusable
    colour_filled: int = 0
    pattern_filled: int = 0
    k: int | None = None
    criterion: str | None = None
    colour_labelled: int = 0  # items with a label colour and a usable image
    colour_delta_e_median: float | None = None  # extracted vs label, Delta-E 76
    colour_name_agreement: float | None = None  # share whose extracted name is the label's
    pattern_labelled: int = 0
    pattern_ari: float | None = None  # texture groups vs pattern labels

    def lines(self) -> list[str]:
        out = [f"images    {self.prepared:,} of {self.items:,} prepared, "
               f"{len(self.skipped):,} unusable"]
        out += [f"  skipped {item}: {why}" for item, why in list(self.skipped.items())[:10]]
        out.append(f"filled    colour on {self.colour_filled:,} items, pattern on "
                   f"{self.pattern_filled:,}")
        if self.k is not None:
            out.append(f"textures  {self.k} groups ({self.criterion})")
        if self.colour_delta_e_median is not None:
            out.append(f"agreement colour: median Delta-E {self.colour_delta_e_median:.1f} "
                       f"vs {self.colour_labelled:,} labels"
                       + (f", name {self.colour_name_agreement:.0%}"
                          if self.colour_name_agreement is not None else ""))
        if self.pattern_ari is not None:
            out.append(f"agreement pattern: ARI {self.pattern_ari:.2f} vs "
                       f"{self.pattern_labelled:,} labels")
        return out


def extract_catalog_attributes(engine: Engine, *, cache_dir: Path,
                               resolution: int = DEFAULT_RESOLUTION,
                               palette: Mapping[str, RGB] | None = None, k: int | None = None,
                               encoder_config: Any = None, progress: bool = True,
                               strict: bool = False,
                               prepared_dir: Path | None = None) -> ExtractionReport:
    """Extract colour and texture for every item with an image; see the module doc.

    Photos are prepared through the cache in ``prepared_dir`` (default ``cache_dir``),
    the one ``generator train --catalog`` reads, so each photo is prepared once.

    Raises
    ------
    ValueError
        With ``strict``, when any image is unusable (nothing is written).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    rows = _read_items(engine)
    photos = prepare_cached([str(row["external_id"]) for row in rows],
                            [Path(row["image_path"]) for row in rows], resolution,
                            prepared_dir or cache_dir, progress=progress)
    images, masks = photos.images, photos.masks
    unusable = {rows[i]["external_id"]: f"{e.reason}: {e}" for i, e in photos.skipped}
    if strict and unusable:
        raise ValueError(f"{len(unusable)} unusable images (first: "
                         f"{next(iter(unusable.items()))}); nothing written")
    kept = [rows[i] for i in photos.kept]
    colours = [body_colour(images[n], masks[n], palette) for n in range(len(kept))]
    groups = _texture_groups(images, masks, k, encoder_config, progress, cache_dir)
    names = _group_names(cache_dir)
    updates, filled_colour, filled_pattern = [], 0, 0
    for n, row in enumerate(kept):
        change, colour_filled, pattern_filled = _merge(
            row, colours[n], None if groups is None else groups, n, names, palette)
        updates.append(change)
        filled_colour += colour_filled
        filled_pattern += pattern_filled
    _write(engine, updates)
    if groups is not None:
        _save_groups(cache_dir, kept, groups, names)
    np.savez_compressed(cache_dir / PREPARED_FILE,
                        images=np.rint(images * 255).astype(np.uint8), masks=masks,
                        item_ids=np.array([r["external_id"] for r in kept]))
    return _report(rows, kept, colours, groups, unusable, filled_colour, filled_pattern)


def name_texture_group(engine: Engine, cache_dir: Path, group: int, name: str) -> int:
    """Name a texture group (1-based): its extracted items' pattern becomes ``name``.

    Labelled patterns are left alone; the name is kept in the cache for later runs.
    Returns how many items changed. Raises ``ValueError`` on an unknown group or bad name.
    """
    name = name.strip().lower()
    if not name or len(name) > 32:
        raise ValueError("a pattern name must be 1-32 characters")
    path = cache_dir / GROUPS_FILE
    if not path.is_file():
        raise ValueError(f"no texture groups under {cache_dir}: run `pigen catalog extract`")
    payload = json.loads(path.read_text())
    if not 1 <= group <= int(payload["k"]):
        raise ValueError(f"group must be 1..{payload['k']}, got {group}")
    changed = []
    for row in _read_items(engine):
        extracted = (row["attributes"] or {}).get("extracted", {})
        if (extracted.get("texture_group") == group
                and extracted.get("pattern_source") == "extracted"):
            attributes = {**row["attributes"], "extracted": {**extracted, "pattern_name": name}}
            changed.append({"b_id": row["id"], "colour": row["colour"],
                            "colour_name": row["colour_name"], "pattern": name,
                            "attributes": attributes})
    _write(engine, changed)
    payload["names"][str(group)] = name
    path.write_text(json.dumps(payload))
    return len(changed)


def pattern_sheets(cache_dir: Path, out_dir: Path, per_group: int = 16) -> list[Path]:
    """One contact-sheet PNG per texture group (most confident items first)."""
    from pigen.data.catalog.texture import TextureGroups, group_contact_sheet

    groups_path, prepared_path = cache_dir / GROUPS_FILE, cache_dir / PREPARED_FILE
    if not groups_path.is_file() or not prepared_path.is_file():
        raise ValueError(f"no texture groups under {cache_dir}: run `pigen catalog extract`")
    payload = json.loads(groups_path.read_text())
    with np.load(prepared_path) as prepared:
        images, item_ids = prepared["images"], [str(i) for i in prepared["item_ids"]]
    row_of = {item: n for n, item in enumerate(item_ids)}
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for group in range(1, int(payload["k"]) + 1):
        members = [n for n, g in enumerate(payload["groups"]) if g == group
                   and payload["items"][n] in row_of]
        if not members:
            continue
        name = payload["names"].get(str(group), f"texture-{group}")
        subset = TextureGroups(labels=np.zeros(len(members), np.int64), k=1,
                               confidence=np.array([payload["confidence"][n] for n in members]),
                               criterion=payload["criterion"])
        sheet = group_contact_sheet(images[[row_of[payload["items"][n]] for n in members]],
                                    subset, [f"{group}: {name}"], per_group)
        path = out_dir / f"texture-{group}.png"
        sheet.save(path)
        written.append(path)
    return written


def _read_items(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        result = connection.execute(
            select(Item.id, Item.external_id, Item.colour, Item.colour_name, Item.pattern,
                   Item.image_path, Item.attributes)
            .where(Item.image_path.is_not(None)).order_by(Item.id))
        return [dict(r._mapping) for r in result]


def _is_label(row: Mapping[str, Any], column: str, source_key: str) -> bool:
    """A stored value is a label unless an earlier extraction wrote it."""
    extracted = (row["attributes"] or {}).get("extracted", {})
    return bool(row[column]) and extracted.get(source_key) != "extracted"


def _texture_groups(images: np.ndarray, masks: np.ndarray, k: int | None,
                    encoder_config: Any, progress: bool, cache_dir: Path) -> Any:
    """Train the encoder on these images and group them, on its features and the
    classical statistics together (:func:`~pigen.data.catalog.texture_stats.
    grouping_features`); None when too few images."""
    if len(images) < MIN_TEXTURE_ITEMS:
        return None
    from pigen.data.catalog.texture import group_textures, train_texture_encoder
    from pigen.data.catalog.texture_stats import grouping_features, spectrum_features

    encoder = train_texture_encoder(images, masks, encoder_config, progress=progress)
    cache_dir.mkdir(parents=True, exist_ok=True)
    encoder.save(cache_dir / ENCODER_FILE)
    features = grouping_features(encoder.features(images, masks),
                                 spectrum_features(images, masks),
                                 learned_weight=LEARNED_WEIGHT)
    return group_textures(features, k)


def _group_names(cache_dir: Path) -> dict[int, str]:
    """Names given with ``name-pattern`` to 1-based groups (kept across runs)."""
    path = cache_dir / GROUPS_FILE
    if not path.is_file():
        return {}
    return {int(g): str(n) for g, n in json.loads(path.read_text())["names"].items()}


def _merge(row: Mapping[str, Any], colour: BodyColour, groups: Any, n: int,
           names: dict[int, str], palette: Mapping[str, RGB] | None
           ) -> tuple[dict[str, Any], bool, bool]:
    """The row's new values: labels kept, gaps filled; and which gaps were filled."""
    extracted: dict[str, Any] = {"colour": colour.hex, "colour_name": colour.name,
                                 "colour_share": round(colour.share, 4)}
    colour_label = _is_label(row, "colour", "colour_source")
    new_colour = row["colour"] if colour_label else colour.hex
    if colour_label:
        new_name = row["colour_name"] or nearest_name(from_hex(row["colour"]), palette)[0]
    else:
        new_name = colour.name
    extracted["colour_source"] = "label" if colour_label else "extracted"
    new_pattern = row["pattern"]
    pattern_label = _is_label(row, "pattern", "pattern_source")
    pattern_filled = False
    if groups is not None:
        group = int(groups.labels[n]) + 1  # 1-based, as "texture-1" and the CLI say it
        extracted["texture_group"] = group
        extracted["texture_confidence"] = round(float(groups.confidence[n]), 4)
        if not pattern_label:
            new_pattern = names.get(group, f"texture-{group}")
            pattern_filled = True
    extracted["pattern_source"] = "label" if pattern_label else (
        "extracted" if pattern_filled else "none")
    attributes = {**(row["attributes"] or {}), "extracted": extracted}
    return ({"b_id": row["id"], "colour": new_colour, "colour_name": new_name,
             "pattern": new_pattern, "attributes": attributes},
            not colour_label, pattern_filled)


def _write(engine: Engine, updates: list[dict[str, Any]]) -> None:
    """All rows in one transaction: a failure leaves the catalog as it was."""
    if not updates:
        return
    table = Item.metadata.tables[Item.__tablename__]
    statement = (update(table).where(table.c.id == bindparam("b_id"))
                 .values(colour=bindparam("colour"), colour_name=bindparam("colour_name"),
                         pattern=bindparam("pattern"), attributes=bindparam("attributes")))
    with engine.begin() as connection:
        connection.execute(statement, updates)


def _save_groups(cache_dir: Path, kept: list[dict[str, Any]], groups: Any,
                 names: dict[int, str]) -> None:
    payload = {"k": int(groups.k), "criterion": groups.criterion,
               "scores": {str(k): float(v) for k, v in groups.scores.items()},
               "items": [r["external_id"] for r in kept],
               "groups": [int(g) + 1 for g in groups.labels],
               "confidence": [round(float(c), 4) for c in groups.confidence],
               "names": {str(g): n for g, n in names.items()},
               "features": _grouping_settings()}
    (cache_dir / GROUPS_FILE).write_text(json.dumps(payload))


def _grouping_settings() -> dict[str, Any]:
    """What the groups were clustered on, saved beside them (provenance)."""
    from pigen.data.catalog.texture_stats import TextureStatsConfig

    return {"learned_weight": LEARNED_WEIGHT, "texture_stats": TextureStatsConfig().to_dict()}


def _report(rows: list[dict[str, Any]], kept: list[dict[str, Any]],
            colours: list[BodyColour], groups: Any, unusable: dict[str, str],
            filled_colour: int, filled_pattern: int) -> ExtractionReport:
    labelled = [n for n, r in enumerate(kept) if _is_label(r, "colour", "colour_source")]
    delta_e = name_agreement = None
    if labelled:
        truth = np.array([from_hex(kept[n]["colour"]) for n in labelled])
        found = np.array([colours[n].rgb for n in labelled])
        delta_e = float(np.median(delta_e76(found, truth)))
        named = [n for n in labelled if kept[n]["colour_name"]]
        if named:
            name_agreement = float(np.mean([colours[n].name == kept[n]["colour_name"]
                                            for n in named]))
    patterned = [n for n, r in enumerate(kept) if _is_label(r, "pattern", "pattern_source")]
    ari = None
    if groups is not None and len(patterned) >= 2:
        from pigen.data.catalog.texture import adjusted_rand_index

        ari = adjusted_rand_index([kept[n]["pattern"] for n in patterned],
                                  groups.labels[patterned])
    return ExtractionReport(
        items=len(rows), prepared=len(kept), skipped=unusable, colour_filled=filled_colour,
        pattern_filled=filled_pattern, k=None if groups is None else int(groups.k),
        criterion=None if groups is None else groups.criterion,
        colour_labelled=len(labelled), colour_delta_e_median=delta_e,
        colour_name_agreement=name_agreement, pattern_labelled=len(patterned),
        pattern_ari=ari)


__all__ = ["ExtractionReport", "extract_catalog_attributes", "name_texture_group",
           "pattern_sheets"]
