"""What the tests share: import it as ``kit`` (pyproject.toml puts tests/ on pytest's
``pythonpath``, so ``from kit.x import y`` works from any folder and any working dir).

A test folder holds ``test_*.py`` and a ``conftest.py`` of fixtures only; nothing imports
a conftest by name (two folders' conftests would shadow each other in one run), and no
test edits ``sys.path``. Helpers live here, one module a subject:

- ``agent_harness``: a real ``medic run`` in a subprocess and its audit database
- ``api_fakes``: a fake agent view and audit store for the API routes
- ``audit_chain``: checking an audit database's hash chain
- ``central``: the fleet's central PostgreSQL database, with shipped incidents
- ``chaos_harness``: an agent killed with SIGKILL and started again
- ``containers``: Docker Engine fixtures (client, test image, containers)
- ``databases``: PostgreSQL scratch databases and private Redis servers
- ``etcd``: a real 3-member etcd cluster
- ``fleet_agents``: several agents in one fleet
- ``fuzzing``: mutations of the shipped packs for the policy fuzz tests
- ``http_stub``: a threaded HTTP server that records requests and answers as told
- ``notifications``: the sample escalation the notifier tests render
- ``packs``: the pack end-to-end tests' policies, agent and webhook receiver
- ``policies``: ``Policy`` objects built without YAML
- ``ports``: free loopback ports
- ``promstack``: real Prometheus and node exporter processes
- ``receivers``: local Slack, PagerDuty, Alertmanager and SMTP stand-ins
- ``runner``: a real PolicyRunner on a real audit store with a fake clock
- ``small_disk``: a small tmpfs to fill up
- ``systemd_node``: a systemd container with Medic installed
- ``web_history``: past incidents written before an agent starts
- ``wheel``: a wheel built from a copy of this checkout
"""
