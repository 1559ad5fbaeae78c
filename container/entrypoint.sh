#!/bin/sh
# Entrypoint of the Medic image: run the agent as the unprivileged `medic` user
# whenever the Docker socket's group lets that user reach the engine.
#
# The socket's group differs between hosts (`docker` is 999 on one, 998 on the next),
# so it is read at start: the agent runs as `medic` with that group added. A socket
# owned by group root (gid 0) could only be reached as root, so then the agent stays
# root and says so. Without a socket (DOCKER_HOST pointing at a socket proxy) it runs
# as `medic`. Started with `--user`, it runs the command as given.
set -eu

SOCKET=${MEDIC_DOCKER_SOCKET:-/var/run/docker.sock}
STATE_DIR=${MEDIC_STATE_DIR:-/var/lib/medic}
USER_NAME=medic

say() {
    echo "medic-entrypoint: $*" >&2
}

if [ "$#" -eq 0 ]; then
    set -- medic run --config /etc/medic/medic.yaml
fi

if [ "$(id -u)" -ne 0 ]; then
    exec "$@"
fi

groups=
if [ -S "$SOCKET" ]; then
    gid=$(stat -c %g "$SOCKET")
    if [ "$gid" -eq 0 ]; then
        say "the Docker socket $SOCKET belongs to group root (gid 0): running as root;" \
            "give the socket a group of its own (dockerd --group) to run unprivileged"
        exec "$@"
    fi
    groups=$gid
    say "running as $USER_NAME with the Docker socket's group (gid $gid)"
else
    say "no Docker socket at $SOCKET: running as $USER_NAME (DOCKER_HOST=${DOCKER_HOST:-unset})"
fi

uid=$(id -u "$USER_NAME")
# A state directory mounted from the host may belong to root: the agent must write it.
if [ -d "$STATE_DIR" ] && [ "$(stat -c %u "$STATE_DIR")" != "$uid" ]; then
    chown -R "$USER_NAME:$USER_NAME" "$STATE_DIR"
fi

if [ -n "$groups" ]; then
    set -- --groups "$groups" -- "$@"
else
    set -- --clear-groups -- "$@"
fi
export HOME="$STATE_DIR"
exec setpriv --reuid "$uid" --regid "$(id -g "$USER_NAME")" --inh-caps=-all --no-new-privs "$@"
