"""Loaders for real data sets, returning plain numpy arrays and pandas frames.

``idx`` reads IDX files; ``fashion_mnist`` finds, downloads and verifies
Fashion-MNIST; ``movielens`` reads MovieLens ratings from any of its usual copies.
Import the module you need: pandas is only loaded by ``movielens``.
"""
