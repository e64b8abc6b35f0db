"""Batch campaigns: the definition an HTTP caller sends, and the campaign with its progress."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from pigen.service.api.schemas.fields import RowId, Strict
from pigen.service.campaigns.definition import MAX_SEED, Segment


class CampaignCreate(Strict):
    name: str = Field(min_length=1, max_length=200, examples=["spring newsletter"])
    segment: Segment = Field(examples=[{"kind": "top_active", "n": 1000}])
    images_per_user: int = Field(default=4, ge=1, le=64)
    diversity: float = Field(default=1.0, ge=0.0, le=10.0, allow_inf_nan=False)
    seed: int = Field(default=0, ge=0, le=MAX_SEED)
    shard_size: int = Field(default=256, ge=1, le=100_000)
    batch_size: int = Field(default=256, ge=1, le=4096)
    generator_version_id: RowId | None = None
    recsys_version_id: RowId | None = None
    output: str | None = Field(
        default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Folder name under the server's campaigns folder (default: made up).")
    start: bool = Field(default=True, description="Queue it now for a `pigen worker` "
                                                  "(false: only define it).")


class ProgressPublic(BaseModel):
    shards_done: int
    shards_total: int
    shards_running: int
    images_done: int
    fraction: float
    shard_attempts: int


class CampaignPublic(BaseModel):
    id: int
    name: str
    status: Literal["created", "queued", "running", "completed", "failed"]
    segment: dict[str, object]
    segment_description: str
    images_per_user: int
    diversity: float
    seed: int
    output_dir: str = Field(description="Where the images go, relative to the server's "
                                        "storage folder (campaigns/<output>).")
    shard_size: int
    batch_size: int
    generator_version_id: int
    recsys_version_id: int
    ratings_until: int
    users: int
    images: int
    progress: ProgressPublic
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    manifest: str | None = Field(description="manifest.parquet (relative to the storage "
                                             "folder), once completed.")
    contact_sheet: str | None
