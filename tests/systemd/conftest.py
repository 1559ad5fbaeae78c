"""The systemd node fixtures (tests/kit/systemd_node.py says how the node is made)."""

from kit.systemd_node import bare_node, node  # noqa: F401  (fixtures, found by pytest by name)
