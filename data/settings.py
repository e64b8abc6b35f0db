"""Where pigen keeps its data: the database and the storage folder (``PIGEN_`` prefix).

Only what ``data/`` itself is about lives here; the service's settings (batching,
keys, CORS, limits, device) extend this class in :mod:`pigen.service.settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pigen.data.postgres_options import PostgresOptions


class StoreSettings(BaseSettings):
    """Database URL and storage folders, read from ``PIGEN_*`` and validated."""

    # Other PIGEN_* keys in a .env file belong to the service: ignored here,
    # rejected by the service's Settings, which knows them all.
    model_config = SettingsConfigDict(
        env_prefix="PIGEN_", env_file=".env", extra="ignore", frozen=True
    )

    # Where models, catalog images and generated images live. Relative paths are
    # resolved against the working directory at start-up.
    storage_dir: Path = Path("var")
    # SQLAlchemy URL. None means the embedded default: a SQLite file in storage_dir.
    database_url: str | None = None
    # Where Fashion-MNIST IDX files are looked for first (None: the usual places).
    fashion_mnist_dir: Path | None = None
    # Accepted rating values at ingest, the API's bounds by default. Finite and
    # far inside float32: one 1e308 made every later ALS fit fail on inf.
    # Negative values are dislikes to ALS; rating_min=0 refuses them.
    rating_min: float = Field(default=-1e6, ge=-1e30, le=1e30)
    rating_max: float = Field(default=1e6, ge=-1e30, le=1e30)
    # PostgreSQL only. A statement or an idle open transaction left behind by
    # a killed client (kill -9 mid-ingest) is ended by the server after this
    # long instead of holding the table lock; 0 turns a bound off.
    postgres_statement_timeout_s: float = Field(default=600.0, ge=0)
    postgres_idle_in_transaction_timeout_s: float = Field(default=60.0, ge=0)
    # TCP keepalive idle seconds: a dead client's connection is noticed in
    # about idle + 3 x 10 s, not the kernel's default two hours.
    postgres_keepalives_idle_s: int = Field(default=30, ge=1)
    # PostgreSQL 14+: how often a running query checks its client is still there.
    postgres_client_check_s: float = Field(default=5.0, ge=0)
    # Seconds to open a connection, and to wait for a free pooled one, before the
    # request fails instead of hanging.
    postgres_connect_timeout_s: int = Field(default=10, ge=1, le=600)
    postgres_pool_timeout_s: float = Field(default=10.0, gt=0, le=600)

    @field_validator("database_url")
    @classmethod
    def _known_dialect(cls, url: str | None) -> str | None:
        if url is None:
            return None
        if not url.startswith(("sqlite://", "postgresql")):
            raise ValueError(
                f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH "
                "or postgresql+psycopg://USER@HOST/DB"
            )
        if url.startswith("postgresql://") or url.startswith("postgresql+psycopg2"):
            # psycopg 3 is the driver we ship; say so rather than fail on import.
            url = "postgresql+psycopg://" + url.split("://", 1)[1]
        return url

    @model_validator(mode="after")
    def _rating_range(self) -> StoreSettings:
        if not self.rating_min < self.rating_max:
            raise ValueError(f"rating_min ({self.rating_min}) must be below rating_max "
                             f"({self.rating_max})")
        return self

    @property
    def rating_range(self) -> tuple[float, float]:
        return (self.rating_min, self.rating_max)

    @property
    def engine_options(self) -> PostgresOptions:
        """Server-side bounds for :func:`pigen.data.database.make_engine`."""
        return PostgresOptions(
            statement_timeout_s=self.postgres_statement_timeout_s,
            idle_in_transaction_timeout_s=self.postgres_idle_in_transaction_timeout_s,
            keepalives_idle_s=self.postgres_keepalives_idle_s,
            client_check_s=self.postgres_client_check_s,
            connect_timeout_s=self.postgres_connect_timeout_s,
            pool_timeout_s=self.postgres_pool_timeout_s)

    @property
    def resolved_database_url(self) -> str:
        """The URL in use: the configured one, or ``sqlite:///<storage_dir>/pigen.db``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.storage_dir / 'pigen.db'}"

    @property
    def catalog_dir(self) -> Path:
        return self.storage_dir / "catalog"

    @property
    def models_dir(self) -> Path:
        return self.storage_dir / "models"
