"""The policy language: YAML files, their schema, safe conditions and durations."""
