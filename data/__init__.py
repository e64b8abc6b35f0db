"""pigen.data: schema, database, ingestion, dataset loaders, catalog, simulator.

Knows nothing about models; every other package reads the store through here.
"""
