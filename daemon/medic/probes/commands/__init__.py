"""Programs as probes: a command's output, Nagios-style checks."""
