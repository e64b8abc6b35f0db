"""data/migrations/versions."""
