"""The engine: pure decisions (state.py, limits.py) driven by the scheduler and runner."""
