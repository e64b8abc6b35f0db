"""Batch campaigns: an image (or several) made for every user of a segment.

``definition`` says what a campaign is, ``segments`` who is in it, ``store`` keeps
its state in the database, ``shards`` makes one shard's images, ``local`` and
``ray_backend`` run the shards, ``outputs`` assembles the manifest and contact sheet.
"""
