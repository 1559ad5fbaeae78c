"""Shared fixtures. Component-specific fixtures live next to the tests that use them."""

from __future__ import annotations
