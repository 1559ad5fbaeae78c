"""Clients that probes and actions share: Docker, systemd, PostgreSQL, MySQL.

A driver knows how to reach one kind of thing (where it is, how to connect, what its
errors mean, how to keep secrets out of messages); probes measure with it and actions
act with it, so neither imports the other. Each imports its client library only when
first used, so loading every plugin costs nothing for the ones no policy runs.
"""
