"""The fleet: one disruption budget and one view across many agents, kept in etcd,
and one audit log for all of them, shipped to a central PostgreSQL."""
