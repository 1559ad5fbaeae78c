"""A real certificate renewal, end to end: nginx, pebble, certbot and the real agent.

How it is made real, all on loopback ports picked at run time:

1. ``pebble`` (Debian's ACME test server) runs with a config in tmp: its API on one
   port (with a certificate made here, trusted by certbot through
   ``REQUESTS_CA_BUNDLE``), its management API on another, and ``httpPort`` set to the
   test nginx's plain-HTTP port. No ``PEBBLE_VA_ALWAYS_VALID``: pebble really fetches
   the http-01 challenge from nginx, which serves certbot's ``--webroot``.
2. ``certbot certonly --webroot`` with ``--server`` pebble and its own
   ``--config-dir/--work-dir/--logs-dir`` issues a real certificate for ``localhost``
   and so creates a real lineage (``live/``, ``archive/``, ``renewal/<name>.conf``).
3. Pebble 2.4 issues five-year certificates and cannot be told otherwise, so the
   lineage is then *aged*: its certificate is re-issued with the same key, subject and
   extensions, signed by pebble's own intermediate (its key comes from the management
   API), valid for 5 more days. To certbot and to every TLS client it is now the same
   certificate five years on: same issuer, valid chain, 5 days left.
4. nginx (own prefix, config, pid file and logs in tmp; not the system service) serves
   the lineage's ``fullchain.pem`` on a TLS port.
5. The real agent runs a policy: ``tls.cert`` on that port, ``when: days_left < 14``,
   remediation ``certbot renew --cert-name <name>`` (certbot itself decides the
   certificate is due) then ``nginx -s reload`` on the test instance; verify re-probes
   and must see the new certificate (five years left, chain valid) for ``verify.healed``.
"""

from __future__ import annotations

import json
import os

import pytest
from cryptography import x509

from kit.acme_site import DOMAIN, POLICY, Site, age_lineage, run, site, wait_until
from kit.agent_harness import AgentProcess

pytestmark = pytest.mark.integration

__all__ = ["site"]  # the fixture, used here by name


def test_expiring_certificate_is_renewed_reloaded_and_verified(site: Site) -> None:
    """A 5-day certificate behind nginx is renewed by certbot via pebble, reloaded, verified."""
    certbot_env = {**os.environ, "REQUESTS_CA_BUNDLE": f"{site.root}/pebble-api.pem"}
    server = f"--server=https://127.0.0.1:{site.acme_port}/dir"
    register = ["--agree-tos", "--register-unsafely-without-email", server]
    webroot = ["--webroot", "-w", f"{site.root}/webroot", "-d", DOMAIN]
    run(site.certbot("certonly", *register, *webroot), certbot_env)
    aged = age_lineage(site, days_left=5)
    (site.root / "pebble-root.pem").write_bytes(site.fetch("/roots/0"))
    site.write_nginx_conf(tls=True)
    run(site.nginx("-s", "reload"))
    wait_until(
        lambda: site.served() == aged, "nginx serving the aged certificate", site.root / "error.log"
    )

    agent = AgentProcess(site.root / "agent")
    renew = site.certbot("renew", "--no-random-sleep-on-renew")
    policy = POLICY.format(
        root=site.root,
        tls_port=site.tls_port,
        renew=json.dumps(renew),
        reload=json.dumps(site.nginx("-s", "reload")),
    )
    agent.write_policy("certs.yaml", policy)
    agent.start()
    try:
        agent.wait_for(lambda: "verify.healed" in agent.kinds(), what="verify.healed", timeout=150)
    finally:
        agent.stop()

    story = [e for e in agent.events() if e["policy"] == "web-cert-expiring" and e["incident"]]
    assert [e["kind"] for e in story] == [
        "incident.detected",
        "incident.fired",
        "action.started",
        "action.succeeded",
        "action.started",
        "action.succeeded",
        "verify.healed",
    ]
    before, after = story[0]["values"], story[-1]["values"]
    assert 4.9 < before["days_left"] < 5.1
    assert before["serial"] == format(aged.serial_number, "x")
    assert (before["chain_valid"], before["hostname_matches"]) == (True, True)
    assert after["days_left"] > 14
    assert (after["chain_valid"], after["hostname_matches"], after["error"]) == (True, True, None)
    assert (site.live / "cert.pem").resolve().name == "cert2.pem"  # certbot made version 2
    renewed = x509.load_pem_x509_certificate((site.live / "cert.pem").read_bytes())
    assert site.served() == renewed
    assert after["serial"] == format(renewed.serial_number, "x")
