"""Tests of the experiment engine."""
