"""pigen.generator: conditional product-image generator (next issues)."""
