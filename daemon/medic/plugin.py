"""The one public surface for plugin authors: import everything from here.

A probe, an action or a notifier is one class in one module::

    from medic.plugin import Field, Measurement, Probe, duration, options_schema, probes

    @probes.register("acme.queue")
    class QueueProbe(Probe):
        \"\"\"Depth of the ACME job queue. (then a fenced yaml example policy)\"\"\"

        schema = options_schema({"window": duration("How far back to count.")})
        fields = (Field("depth", "number", "Jobs waiting."),)

        async def measure(self) -> Measurement:
            return {"queue": {"depth": 3}}

and a distribution names its module in the entry-point group ``medic.probes``,
``medic.actions`` or ``medic.notifiers``: the agent loads it exactly as it loads its
built-ins. docs/plugins.md walks through a complete example package.

What this module holds, and nothing else, is the contract: names here stay stable;
the modules they come from may move.
"""

from __future__ import annotations

from medic.actions.base import (
    Action,
    ActionContext,
    ActionResult,
    actions,
    not_filled,
    unfilled_note,
)
from medic.actions.placeholders import PlaceholderError
from medic.durations import (
    ANY,
    DurationError,
    Span,
    format_duration,
    parse_duration,
)
from medic.errors import ActionError, MedicError, NotifyError, ProbeError
from medic.notify.base import Notification, Notifier, notifiers
from medic.option_schemas import (
    argv,
    duration,
    integer,
    number,
    options_schema,
    secret,
    url,
)
from medic.probes.base import Field, FieldType, Measurement, Probe, probes
from medic.proc import CompletedRun, run_process
from medic.regular_file import FileTooBigError, NotRegularFileError, read_regular
from medic.secrets import SecretError
from medic.secrets import resolve as resolve_secret

__all__ = [
    "ANY",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionResult",
    "CompletedRun",
    "DurationError",
    "Field",
    "FieldType",
    "FileTooBigError",
    "Measurement",
    "MedicError",
    "NotRegularFileError",
    "Notification",
    "Notifier",
    "NotifyError",
    "PlaceholderError",
    "Probe",
    "ProbeError",
    "SecretError",
    "Span",
    "actions",
    "argv",
    "duration",
    "format_duration",
    "integer",
    "not_filled",
    "notifiers",
    "number",
    "options_schema",
    "parse_duration",
    "probes",
    "read_regular",
    "resolve_secret",
    "run_process",
    "secret",
    "unfilled_note",
    "url",
]
