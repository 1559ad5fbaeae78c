"""Stage 3 of policy validation: the checks that need the registries and the conditions.

For one policy (already through the envelope schema): is the probe type registered,
do its options fit that probe's schema and ``validate()``, do ``when:`` and
``clear_when:`` compile and name only fields the probe yields, is every remediation
step a registered action with valid options, do ``escalate.notify`` names exist in the
agent config. Every check tolerates malformed input (the envelope has already said
what is wrong with it) and records what it learned in a :class:`PolicyCheck`, which
the loader turns into a :class:`~medic.policy.model.Policy` when nothing failed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from medic.actions.base import Action
from medic.errors import ExpressionError, Location, PolicyError
from medic.policy.durations import PERCENT_SIGN if False else DurationError, parse_duration  # noqa: F401
