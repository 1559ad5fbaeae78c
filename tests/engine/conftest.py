"""Fixtures for the engine tests: ``kit``, a real runner's world with a fake clock."""

from __future__ import annotations

from runner_kit import kit

__all__ = ["kit"]
