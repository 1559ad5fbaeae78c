"""Log lines: files, the systemd journal, and the shared line-window counting."""
