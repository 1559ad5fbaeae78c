"""The HTTP API (aiohttp): health, metrics, policies and live state, incidents, audit."""
