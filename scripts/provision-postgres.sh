#!/usr/bin/env bash
# Make a real PostgreSQL 15 answer on 127.0.0.1:5432, for the postgres probe and action tests.
#
# Idempotent and quick when already done. As root, on Debian bookworm:
# - installs postgresql (15) when missing, and creates the `15 main` cluster if the
#   package did not;
# - starts it with pg_ctlcluster (there is no systemd here) unless pg_isready answers,
#   and waits until it does (60 s at most; on failure prints the server log's tail);
# - makes sure a test superuser exists that tests reach over TCP with a password:
#   role `medic_test`, password `medic-test` (a throwaway credential for this test
#   cluster only; tests/kit/databases.py uses it to create a role and a database of
#   their own for each test and drops them afterwards).
# The end-to-end test starts a private cluster of its own with initdb (it needs
# max_connections low), so the server binaries are what it needs from here.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VERSION=15
CLUSTER=main
PORT=5432
LOG=/var/log/postgresql/postgresql-$VERSION-$CLUSTER.log
WAIT_SECONDS=60
TEST_ROLE=medic_test
TEST_PASSWORD=medic-test

answers() {
    pg_isready -q -h 127.0.0.1 -p "$PORT" 2>/dev/null
}

role_works() {
    PGPASSWORD="$TEST_PASSWORD" PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -p "$PORT" \
        -U "$TEST_ROLE" -d postgres -tAc 'select 1' >/dev/null 2>&1
}

if command -v pg_isready >/dev/null 2>&1 && command -v psql >/dev/null 2>&1 && answers && role_works; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-postgres: PostgreSQL is not ready on 127.0.0.1:$PORT and setting it up needs root" >&2
    exit 1
fi

"$HERE/apt-install.sh" postgresql

if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -qx "$VERSION $CLUSTER"; then
    pg_createcluster --port "$PORT" "$VERSION" "$CLUSTER" >/dev/null
fi

if ! answers; then
    # pg_ctlcluster daemonizes the postmaster itself; its output goes to $LOG.
    setsid pg_ctlcluster --skip-systemctl-redirect "$VERSION" "$CLUSTER" start </dev/null \
        || true  # "already running" or a failure: the wait below tells them apart
fi

deadline=$((SECONDS + WAIT_SECONDS))
until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "provision-postgres: PostgreSQL $VERSION did not answer within ${WAIT_SECONDS}s; last log lines:" >&2
        tail -n 40 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.2
done

# Over the local socket as the postgres OS user (peer authentication).
runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$TEST_ROLE') THEN
        CREATE ROLE $TEST_ROLE LOGIN SUPERUSER;
    END IF;
END
\$\$;
ALTER ROLE $TEST_ROLE WITH LOGIN SUPERUSER PASSWORD '$TEST_PASSWORD';
SQL

if ! role_works; then
    echo "provision-postgres: role $TEST_ROLE cannot log in over TCP; check pg_hba.conf" >&2
    exit 1
fi
echo "provision-postgres: PostgreSQL $VERSION answers on 127.0.0.1:$PORT (test role $TEST_ROLE)"
