"""Medic: a policy-driven self-healing daemon."""

__version__ = "0.1.0"
