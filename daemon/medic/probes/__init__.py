"""Probes: detector types that measure targets and yield named fields."""

from medic.probes.base import Field, Measurement, Probe, probes

__all__ = ["Field", "Measurement", "Probe", "probes"]
