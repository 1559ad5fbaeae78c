"""Network endpoints: HTTP, TCP, TLS certificates."""
