"""Which options of the ``prometheus`` probe go together, checked before it ever runs.

The probe has three forms (a scraped series, a ratio of two scraped rates, a PromQL
query), each with its own keys; a key of another form, a missing partner or a secret
written in plain text in a header is reported here, in the words ``medic validate``
prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medic.durations import DurationError, parse_duration
from medic.redact import is_secret_key

_SCRAPE_ONLY = ("metric", "labels", "window", "numerator", "denominator")


def option_problems(options: Mapping[str, Any]) -> list[str]:
    """The problems with these options, as ``medic validate`` prints them (none: [])."""
    has = {key for key in options if options.get(key) is not None}
    if ("scrape" in has) == ("query" in has):
        return [
            "give exactly one of scrape (an exposition URL the probe reads itself) "
            "or query (PromQL answered by a Prometheus server)."
        ]
    problems: list[str] = []
    if "query" in has:
        if "server" not in has:
            problems.append("query needs server, the Prometheus base URL (http://host:9090).")
        problems.extend(
            f"{key} is for scrape; with query, select and compute in PromQL instead."
            for key in _SCRAPE_ONLY
            if key in has
        )
    else:
        problems.extend(_scrape_problems(has))
    if "window" in has:
        try:
            if parse_duration(options["window"]) <= 0:
                problems.append("window must be longer than 0s.")
        except DurationError as exc:
            problems.append(f"window: {exc}")
    headers = options.get("headers") or {}
    problems.extend(
        f"header {name} holds a secret: write it as {{env: NAME}} or {{file: /path}}, "
        "or use token: for a bearer token."
        for name, value in headers.items()
        if isinstance(value, str) and is_secret_key(name)
    )
    if "token" in has and any(str(k).lower() == "authorization" for k in headers):
        problems.append("give token or an Authorization header, not both.")
    return problems


def _scrape_problems(has: set[str]) -> list[str]:
    ratio = {"numerator", "denominator"} & has
    if "server" in has:
        return ["server is for query; with scrape, the URL to read is scrape itself."]
    if "metric" in has and ratio:
        return ["give metric (one series per target) or numerator and denominator, not both."]
    if not ratio:
        if "metric" not in has:
            return ["scrape needs metric, or numerator and denominator for a ratio of rates."]
        if "name" in has:
            return ["name is for a ratio or a query; series of metric are named by their labels."]
        return []
    if len(ratio) == 1:
        return ["a ratio needs both numerator and denominator."]
    if "labels" in has:
        return ["with a ratio, put labels inside numerator and denominator."]
    if "window" not in has:
        return ["a ratio of rates needs window (like 5m), the span the rates are measured over."]
    return []
