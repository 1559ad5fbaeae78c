"""Services and jobs: systemd units, schedules, deploys."""
