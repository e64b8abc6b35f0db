"""Where pigen keeps its data: the database and the storage folder (``PIGEN_`` prefix).

Only what ``data/`` itself is about lives here; the service's settings (batching,
keys, CORS, limits, device) extend this class in :mod:`pigen.service.settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
