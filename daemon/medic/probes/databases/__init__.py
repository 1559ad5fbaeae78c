"""Databases and queues: PostgreSQL, MySQL/MariaDB, Redis."""
