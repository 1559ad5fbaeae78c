"""Other monitors as sources: Prometheus queries, Alertmanager alerts."""
