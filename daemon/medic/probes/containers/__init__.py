"""Docker containers: state, health, resources and logs."""
