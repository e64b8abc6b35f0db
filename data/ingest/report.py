"""What an ingest did, for the command line and for tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestReport:
    """Counts of one ingest. ``already_present`` rows matched the natural key."""

    source: str
    rows_read: int
    inserted: int
    already_present: int
    updated: int = 0
    # Stored rows whose different value was kept (``on_conflict="skip"``).
    conflicts_kept: int = 0
    # Values below 0: dislikes to ALS, reported so they are never a surprise.
    negative_values: int = 0
    new_users: int = 0
    # Items created with no attributes (``create_items``: a ratings-only store).
    new_items: int = 0
    duplicates_in_file: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds > 0 else float("inf")

    def summary(self) -> str:
        parts = [f"{self.rows_read:,} rows read", f"{self.inserted:,} inserted"]
        if self.updated:
            parts.append(f"{self.updated:,} updated")
        parts.append(f"{self.already_present:,} already present")
        if self.conflicts_kept:
            parts.append(f"{self.conflicts_kept:,} conflicting rows skipped (stored value kept)")
        if self.negative_values:
            parts.append(f"{self.negative_values:,} negative values (dislikes)")
        if self.new_users:
            parts.append(f"{self.new_users:,} new users")
        if self.new_items:
            parts.append(f"{self.new_items:,} new items without attributes")
        if self.duplicates_in_file:
            parts.append(f"{self.duplicates_in_file:,} repeated rows in the file skipped")
        return f"{self.source}: " + ", ".join(parts) + f" in {self.seconds:.2f}s"
