"""data/migrations."""
