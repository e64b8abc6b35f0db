"""One shard, start to finish: users -> conditions -> images -> PNG files + a manifest part.

The same function serves the local backend and every Ray actor, so both make
the same bytes. Everything a shard produces is a pure function of the campaign
definition, the pinned models, the shard's users and their ratings up to the
campaign's ``ratings_until``: redoing a shard (after a crash) rewrites identical
files at the same paths, so a shard made twice still leaves one file per image.
Every file is written under a temporary name beside its final one (unique to
the writer, so a runner presumed dead cannot interleave with its successor) and
renamed into place: a reader never sees half an image or half a manifest part.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from sqlalchemy import Engine, select

from pigen.data.schema import Interaction, Item
from pigen.service.campaigns import leases, store
from pigen.service.campaigns.store import CampaignInfo, ShardInfo

if TYPE_CHECKING:
    import pyarrow as pa

    from pigen.generator.checkpoint import LoadedGenerator
    from pigen.recsys.als import ALSRecommender
    from pigen.recsys.conditioning import TasteProfile
    from pigen.recsys.item_attributes import ItemAttributes

IMAGES_DIR = "images"
PARTS_DIR = "parts"


def user_folder(user_id: str) -> str:
    """A file-system-safe folder name for an external user id (percent-encoded, reversible)."""
    return re.sub(r"[^A-Za-z0-9_\-]", lambda m: "".join(f"%{b:02X}" for b in
                                                       m.group().encode()), user_id)


def image_path(user_id: str, index: int) -> str:
    """Where image ``index`` of a user goes, relative to the campaign's output folder."""
    return f"{IMAGES_DIR}/{user_folder(user_id)}/{index:02d}.png"


def part_path(output_dir: Path, shard: int) -> Path:
    return output_dir / PARTS_DIR / f"shard-{shard:06d}.parquet"


@dataclass(frozen=True)
class ShardResult:
    shard: int
    images: int
    seconds: dict[str, float]  # time per stage: conditions, generate, write


class ShardContext:
    """What every shard of a campaign needs, loaded once per worker (process or actor).

    Holds the pinned generator and ALS model, the catalog's attributes in the
    model's item order and the generator's condition layout, and the profile
    given to users the model can say nothing about.
    """

    def __init__(self, engine: Engine, campaign: CampaignInfo, device: str = "cpu",
                 encode_threads: int = 0, owner: str | None = None,
                 lease_seconds: float = leases.DEFAULT_LEASE_SECONDS) -> None:
        from pigen.data.items import read_items_frame
        from pigen.generator.checkpoint import load_generator
        from pigen.recsys.als import ALSRecommender
        from pigen.recsys.conditioning import population_profile
        from pigen.recsys.item_attributes import ItemAttributes

        self.engine = engine
        self.campaign = campaign
        # Who holds this context's shard leases (a Ray actor: a name of its own).
        self.owner = owner or leases.new_owner()
        self.lease_seconds = lease_seconds
        self._tmp_tag = uuid.uuid4().hex[:8]  # this writer's temporary file names
        self.generator: LoadedGenerator = load_generator(campaign.generator.path, device=device)
        self.als: ALSRecommender = ALSRecommender.load(campaign.recsys.path)
        # Conditions are built in the generator's own layout; catalog categories
        # or patterns it does not know drop out of that part of the profile.
        self.attributes: ItemAttributes = ItemAttributes.from_frame(
            read_items_frame(engine), self.als.items, self.generator.layout)
        self.baseline = self.als.user_factors.mean(axis=0)  # (F,)
        self.population: TasteProfile = population_profile(
            self.als.item_counts.astype(float), self.attributes)
        self.trained_until = int(campaign.recsys.metrics.get("trained_until", 0))
        threads = encode_threads or min(4, os.cpu_count() or 1)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="png") if threads > 1 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    # -- 1. taste ---------------------------------------------------------------------

    def profiles(self, users: Sequence[tuple[int, str]]) -> tuple[list[TasteProfile], list[str]]:
        """Each user's taste profile and where their factor came from (model/folded/prior).

        The same choice as the one-user path (``pigen.service.taste``), for many
        users at once and with ratings cut at the campaign's ``ratings_until``.
        """
        from pigen.recsys.conditioning import taste_profiles
        from pigen.recsys.user_factors import history_row

        als = self.als
        histories = self._histories([pk for pk, _ in users])
        rows, newer = [], []
        for pk, _ in users:
            item_ids, values, times = histories.get(pk, ((), (), ()))
            rows.append(history_row(als.items, item_ids, values))
            newer.append(bool(times) and max(times) > self.trained_until)
        rated = sp.vstack(rows, format="csr") if rows else sp.csr_matrix((0, len(als.items)))
        weighted = als.weighted(rated)  # what the model sees: usable rows, liked items
        usable = np.diff(weighted.indptr) > 0  # (U,)
        sources = []
        factors = np.zeros((len(users), als.item_factors.shape[1]), dtype=np.float32)
        fold = []
        for u, (_, external) in enumerate(users):
            if not usable[u]:
                sources.append("prior")
            elif external in als.users and not newer[u]:
                sources.append("model")
                factors[u] = als.user_factors[als.users.row_of(external)]
            else:
                sources.append("folded")
                fold.append(u)
        if fold:
            factors[fold] = als.fold_in(rated[fold])
        known = np.flatnonzero(usable)
        profiles: list[TasteProfile] = [self.population] * len(users)
        if len(known):
            batch = taste_profiles(factors[known], als.item_factors, self.attributes,
                                   rated=rated[known], baseline=self.baseline,
                                   own=weighted[known].maximum(0))
            for k, u in enumerate(known.tolist()):
                profiles[u] = batch.profile(k)
        return profiles, sources

    def _histories(self, user_pks: list[int]
                   ) -> dict[int, tuple[list[str], list[float], list[int]]]:
        """Ratings of these users up to ``ratings_until``, oldest first, per user."""
        out: dict[int, tuple[list[str], list[float], list[int]]] = {}
        if not user_pks:
            return out
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(Interaction.user_id, Item.external_id, Interaction.value,
                       Interaction.occurred_at)
                .join(Item, Item.id == Interaction.item_id)
                .where(Interaction.user_id.in_(user_pks), Interaction.kind == "rating",
                       Interaction.occurred_at <= self.campaign.ratings_until)
                .order_by(Interaction.user_id, Interaction.occurred_at, Item.external_id))
            for pk, item, value, when in rows:
                ids, values, times = out.setdefault(int(pk), ([], [], []))
                ids.append(str(item))
                values.append(float(value))
                times.append(int(when))
        return out

    # -- 2-4. the shard -----------------------------------------------------------------

    def make_shard(self, shard: ShardInfo) -> ShardResult:
        """Write every image of ``shard`` and its manifest part (prepare, generate, write).

        Idempotent: running it again rewrites the same bytes at the same paths.
        """
        prepared = self.prepare(shard)
        images = self.generate(prepared)
        self.wait_written(prepared, self.write_images(prepared, images))
        return prepared.result()

    def prepare(self, shard: ShardInfo) -> PreparedShard:
        """Step 1: the shard's users, their taste profiles and each image's condition and seed."""
        from pigen.recsys.condition_sampling import sample_conditions, shopper_seed

        campaign = self.campaign
        started = time.perf_counter()
        users = store.shard_users(self.engine, shard)
        if len(users) != shard.size:
            raise RuntimeError(f"campaign {campaign.id} shard {shard.shard}: expected "
                               f"{shard.size} users, found {len(users)}")
        if shard.attempt > 1:  # a run died in this shard: drop its temporary files
            for _, external in users:
                folder = campaign.output_dir / IMAGES_DIR / user_folder(external)
                for leftover in folder.glob(".*.tmp"):
                    leftover.unlink(missing_ok=True)
        profiles, sources = self.profiles(users)
        records: list[dict[str, object]] = []
        for (_, external), profile, source in zip(users, profiles, sources, strict=True):
            samples = sample_conditions(profile, campaign.images_per_user,
                                        shopper_seed(campaign.seed, external),
                                        diversity=campaign.diversity)
            because = [item for item, _ in profile.contributing_items]
            explanation = (("made from your ratings of " if profile.contributors_rated
                            else "popular with shoppers: ") + ", ".join(because))
            for k, s in enumerate(samples):
                rgb = np.round(s.condition.colour.astype(np.float64) * 255).astype(int)
                records.append({
                    "user_id": external, "image_index": k, "image_path": image_path(external, k),
                    "category": s.condition.category_name, "pattern": s.condition.pattern_name,
                    "colour": "#{:02x}{:02x}{:02x}".format(*rgb.tolist()),
                    "colour_name": s.colour_name, "condition": s.condition.to_array(),
                    "seed": s.seed, "factor_source": source, "explanation": explanation,
                    "contributing_items": because,
                })
        prepared = PreparedShard(shard, [external for _, external in users], records)
        prepared.seconds["conditions"] = time.perf_counter() - started
        return prepared

    def generate(self, prepared: PreparedShard) -> np.ndarray:
        """Step 2: (N, R, R, 3) uint8 images, in the campaign's fixed batches.

        The same batches every time: an image may round differently in another batch.
        """
        from pigen.generator.sampling import sample, to_uint8

        started = time.perf_counter()
        records = prepared.records
        conditions = np.stack([np.asarray(r["condition"]) for r in records])  # (N, D) float32
        seeds = np.array([r["seed"] for r in records], dtype=np.uint64)
        batch = self.campaign.batch_size
        out = [to_uint8(sample(self.generator.model, conditions[i:i + batch],
                               seeds[i:i + batch], batch_size=batch))
               for i in range(0, len(records), batch)]
        prepared.seconds["generate"] = time.perf_counter() - started
        return np.concatenate(out)

    def write_images(self, prepared: PreparedShard, images: np.ndarray) -> list[Future[None]]:
        """Step 3: encode and write the PNGs, one task per user on the pool (or inline).

        Each file is written as ``.NN.png.<tag>.tmp`` next to its final name and
        renamed: a reader never sees half an image. What a killed run left is
        removed when its shard is redone (:meth:`prepare`).
        """
        per_user = self.campaign.images_per_user
        root = self.campaign.output_dir
        jobs = [(root / IMAGES_DIR / user_folder(user), images[u * per_user:(u + 1) * per_user])
                for u, user in enumerate(prepared.users)]
        started = time.perf_counter()
        if self._pool is None:
            for folder, user_images in jobs:
                _write_user_images(folder, user_images, self._tmp_tag)
            prepared.seconds["write"] = time.perf_counter() - started
            return []
        return [self._pool.submit(_write_user_images, folder, user_images, self._tmp_tag)
                for folder, user_images in jobs]

    def wait_written(self, prepared: PreparedShard, futures: list[Future[None]]) -> None:
        """Step 4: wait for the images, then write the manifest part (last: it means 'whole')."""
        import pyarrow.parquet as pq

        started = time.perf_counter()
        for future in futures:
            future.result()
        target = part_path(self.campaign.output_dir, prepared.shard.shard)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{self._tmp_tag}.tmp")
        pq.write_table(manifest_table(prepared.records, self.campaign), tmp)
        os.replace(tmp, target)
        prepared.seconds["write"] = (prepared.seconds.get("write", 0.0)
                                     + time.perf_counter() - started)


@dataclass
class PreparedShard:
    """A shard between the steps: its users (in order) and one record per image."""

    shard: ShardInfo
    users: list[str]
    records: list[dict[str, object]]
    seconds: dict[str, float] = field(default_factory=dict)

    def result(self) -> ShardResult:
        return ShardResult(self.shard.shard, len(self.records), dict(self.seconds))


def _write_user_images(folder: Path, images: np.ndarray, tag: str) -> None:
    """Write one user's images as ``00.png``, ``01.png``, ... in ``folder`` (atomically each)."""
    from pigen.generator.encode import png_bytes

    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
    # Names relative to an open folder: one path lookup per user, not two per file.
    folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for k, image in enumerate(images):
            tmp, final = f".{k:02d}.png.{tag}.tmp", f"{k:02d}.png"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=folder_fd)
            try:
                os.write(fd, png_bytes(image))
            finally:
                os.close(fd)
            os.replace(tmp, final, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    finally:
        os.close(folder_fd)


def manifest_table(records: list[dict[str, object]], campaign: CampaignInfo) -> pa.Table:
    """The manifest rows of one shard as an Arrow table (the schema of manifest.parquet)."""
    import pyarrow as pa

    n = len(records)
    columns = {
        "user_id": pa.array([r["user_id"] for r in records], pa.string()),
        "image_index": pa.array([r["image_index"] for r in records], pa.int16()),
        "image_path": pa.array([r["image_path"] for r in records], pa.string()),
        "category": pa.array([r["category"] for r in records], pa.string()),
        "pattern": pa.array([r["pattern"] for r in records], pa.string()),
        "colour": pa.array([r["colour"] for r in records], pa.string()),
        "colour_name": pa.array([r["colour_name"] for r in records], pa.string()),
        "condition": pa.array([np.asarray(r["condition"], dtype=np.float32) for r in records],
                              pa.list_(pa.float32())),
        "seed": pa.array([r["seed"] for r in records], pa.int64()),
        "generator_version_id": pa.array([campaign.generator.id] * n, pa.int64()),
        "recsys_version_id": pa.array([campaign.recsys.id] * n, pa.int64()),
        "factor_source": pa.array([r["factor_source"] for r in records], pa.string()),
        "explanation": pa.array([r["explanation"] for r in records], pa.string()),
        "contributing_items": pa.array([r["contributing_items"] for r in records],
                                       pa.list_(pa.string())),
    }
    # No campaign id here: two campaigns with one definition give byte-identical files.
    meta = {"generator_sha256": str(campaign.generator.config.get("sha256", "")),
            "condition_layout": json.dumps(campaign.generator.config.get("layout", {}),
                                           sort_keys=True)}
    return pa.table(columns).replace_schema_metadata(meta)


def run_shard(context: ShardContext, shard: ShardInfo) -> ShardResult:
    """Lease, make and record one shard (what each Ray actor runs for its shards).

    Raises ``RuntimeError`` when another runner holds the shard's lease.
    """
    claimed = leases.claim_shard(context.engine, shard, context.owner, context.lease_seconds)
    if claimed is None:
        raise RuntimeError(f"campaign {shard.campaign_id} shard {shard.shard} is leased by "
                           "another run")
    result = context.make_shard(claimed)
    if not leases.complete_shard(context.engine, claimed, context.owner, result.images):
        raise RuntimeError(f"campaign {shard.campaign_id} shard {shard.shard}: the lease "
                           "was taken over before the shard was recorded")
    return result
