"""CSV/Parquet ingestion of catalogs and ratings: validate everything, then write once."""

from pigen.data.ingest.catalog import ingest_catalog, ingest_catalog_frame
from pigen.data.ingest.errors import IngestError, Problem
from pigen.data.ingest.ratings import ingest_ratings, ingest_ratings_frame
from pigen.data.ingest.report import IngestReport

__all__ = [
    "IngestError",
    "IngestReport",
    "Problem",
    "ingest_catalog",
    "ingest_catalog_frame",
    "ingest_ratings",
    "ingest_ratings_frame",
]
