"""The product catalog's attributes: colours, patterns, rendering and recovery.

``palette`` names the colours; ``render`` is the built-in recipe (shape x colour x
pattern -> 32x32 RGB, and ``PATTERNS``); ``builtin`` draws and writes the built-in
catalog (``CATEGORIES``, ``CatalogConfig``); ``attributes`` reads colour and pattern
back from images, for catalogs that come without labels.
"""
