"""data/catalog."""
