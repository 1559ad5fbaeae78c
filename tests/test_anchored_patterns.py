"""A pattern written ``^...$`` checks a whole string only through ``fullmatch``.

Python's ``$`` also matches before a final newline, so ``UNIT.match("web\\n")`` passes
a value with a newline in it (it reached a URL's host this way). Every module-level
pattern that ends in ``$`` is used with ``fullmatch`` or ``search``, never ``match``.
"""

from __future__ import annotations

import re
from pathlib import Path

import medic

PACKAGE = Path(medic.__file__).parent
_ANCHORED = re.compile(r"^\s*(\w+)\s*=\s*re2?\.compile\(\s*r?([\"'])\^.*\$\2", re.MULTILINE)
_COMPILED = re.compile(r"^\s*(\w+)\s*=\s*re2?\.compile\(", re.MULTILINE)


def test_no_anchored_pattern_is_used_with_match() -> None:
    """Each ``NAME = re.compile(r"^...$")`` of the package is never ``NAME.match(``."""
    sources = {path: path.read_text(encoding="utf-8") for path in PACKAGE.rglob("*.py")}
    names = {m.group(1) for text in sources.values() for m in _ANCHORED.finditer(text)}
    assert len(names) >= 10  # the scan still finds the validators it guards
    misuse = []
    for path, text in sources.items():
        own = {m.group(1) for m in _COMPILED.finditer(text)}
        mine = {m.group(1) for m in _ANCHORED.finditer(text)}
        # A name this file compiles itself is judged by its own pattern; others by import.
        for name in (names - own) | mine:
            if re.search(rf"\b{name}\.match\(", text):
                misuse.append(f"{path.relative_to(PACKAGE)}: {name}.match(")
    assert misuse == []
