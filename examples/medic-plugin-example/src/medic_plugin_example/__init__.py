"""A worked example of a third-party Medic plugin: one probe, one action."""
