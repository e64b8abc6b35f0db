"""Ingest errors that name the row and the problem, so a person can fix the file."""

from __future__ import annotations

from dataclasses import dataclass

#: How many problems an error message lists before summarising the rest.
MAX_LISTED = 10


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file. ``line`` is the file line (1 = header)."""

    message: str
    line: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        column = f", column {self.column!r}" if self.column else ""
        return f"{where}{column}: {self.message}"


class IngestError(ValueError):
    """The file was rejected; nothing was written. ``problems`` lists why."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:MAX_LISTED])
        more = len(problems) - MAX_LISTED
        tail = f"\n  ... and {more} more problems" if more > 0 else ""
        super().__init__(f"{source} rejected, nothing was written:\n{shown}{tail}")

