"""Bounds on PostgreSQL sessions, so work a killed client leaves behind ends by itself.

Without them, after kill -9 of an ingest the server kept running the orphaned
INSERT, holding the interactions table lock. Kept free of SQLAlchemy so the
settings can import it cheaply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PostgresOptions:
    """Session bounds for every PostgreSQL connection (settings ``PIGEN_POSTGRES_*``)."""

    # Longest one statement may run; 0 = no limit. Ten minutes covers a
    # multi-million-row ingest (a million rows take ~15 s).
    statement_timeout_s: float = 600.0
    # A transaction left open and idle (its client gone) is ended after this.
    idle_in_transaction_timeout_s: float = 60.0
    # Longest a new connection may take to open: a server that does not answer
    # fails the request in seconds instead of hanging it (libpq's default: forever).
    connect_timeout_s: int = 10
    # Longest a caller waits for a free pooled connection when all are in use.
    pool_timeout_s: float = 10.0
    # TCP keepalives: a dead peer is noticed after idle + 3 x 10 s.
    keepalives_idle_s: int = 30
    # PostgreSQL 14+: while a query runs, check this often that the client is
    # still there, and cancel the query if not.
    client_check_s: float = 5.0

    def connect_args(self) -> dict[str, int]:
        """libpq parameters: a connect timeout, and keepalives so the client notices a
        server that vanished."""
        return {"connect_timeout": self.connect_timeout_s,
                "keepalives": 1, "keepalives_idle": self.keepalives_idle_s,
                "keepalives_interval": 10, "keepalives_count": 3}

    def session_settings(self, server_version: int) -> dict[str, str]:
        """``SET`` statements' values for a server of ``server_version`` (e.g. 150004)."""
        settings = {
            "statement_timeout": f"{round(self.statement_timeout_s * 1000)}ms",
            "idle_in_transaction_session_timeout":
                f"{round(self.idle_in_transaction_timeout_s * 1000)}ms",
        }
        # The server's side of the keepalives: notices a client host that vanished.
        settings |= {"tcp_keepalives_idle": str(self.keepalives_idle_s),
                     "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
        if server_version >= 140000:
            settings["client_connection_check_interval"] = f"{round(self.client_check_s * 1000)}ms"
        return settings
