"""Fixtures for tests that run real workers."""

from tests.worker_harness import pipeline

__all__ = ["pipeline"]
