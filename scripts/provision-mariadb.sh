#!/usr/bin/env bash
# Make a real MariaDB (Debian's mariadb-server) answer on 127.0.0.1:3306, for the mysql
# probe and the mysql.terminate action tests.
#
# Idempotent and quick when already done. As root, on Debian:
# - installs mariadb-server when missing;
# - starts mysqld_safe (there is no systemd here) unless mariadb-admin ping answers,
#   and waits until it does (60 s at most; on failure prints the error log's tail);
# - makes sure a test user exists that tests reach over TCP with a password:
#   `medic_test`@`127.0.0.1` / `localhost`, password `medic-test` (a throwaway credential
#   for this test server only), with PROCESS, CONNECTION ADMIN (KILL others' queries)
#   and CREATE USER so tests/db make a user of their own per test and drop it after.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PORT=3306
LOG=/var/log/mysql/error.log
WAIT_SECONDS=60
TEST_USER=medic_test
TEST_PASSWORD=medic-test

answers() {
    mariadb-admin --protocol=socket -uroot ping >/dev/null 2>&1
}

user_works() {
    MYSQL_PWD="$TEST_PASSWORD" mariadb --protocol=tcp -h 127.0.0.1 -P "$PORT" \
        -u "$TEST_USER" -N -e 'SELECT 1' >/dev/null 2>&1
}

if command -v mariadb >/dev/null 2>&1 && user_works; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "provision-mariadb: MariaDB is not ready on 127.0.0.1:$PORT and setting it up needs root" >&2
    exit 1
fi

"$HERE/apt-install.sh" mariadb-server mariadb-client

mkdir -p /run/mysqld /var/log/mysql
chown mysql:mysql /run/mysqld /var/log/mysql

if ! answers; then
    # mysqld_safe restarts the server if it dies; setsid keeps it out of our session.
    setsid mysqld_safe --bind-address=127.0.0.1 --port="$PORT" --log-error="$LOG" \
        </dev/null >/dev/null 2>&1 &
fi

deadline=$((SECONDS + WAIT_SECONDS))
until answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "provision-mariadb: MariaDB did not answer within ${WAIT_SECONDS}s; last log lines:" >&2
        tail -n 40 "$LOG" >&2 || true
        exit 1
    fi
    sleep 0.2
done

# Over the local socket as root (unix_socket authentication on Debian).
mariadb --protocol=socket -uroot <<SQL
CREATE USER IF NOT EXISTS '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
CREATE USER IF NOT EXISTS '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'localhost' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL

if ! user_works; then
    echo "provision-mariadb: user $TEST_USER cannot log in over TCP" >&2
    exit 1
fi
echo "provision-mariadb: MariaDB answers on 127.0.0.1:$PORT (test user $TEST_USER)"
