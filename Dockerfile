# The Medic agent image, to run next to the containers it looks after (a sidecar).
#
# No registry is reachable on the build machines, so the base image is a build
# argument: any Debian-like image with python3 (>= 3.11), its venv module and
# setpriv (util-linux). The tests build on a local debootstrap import:
#   scripts/build-python-base.sh
#   docker build --build-arg BASE=medic-test/python:1 -t medic-test/medic:1 .
# Elsewhere:  docker build --build-arg BASE=python:3.11-slim -t medic .
# Running it, and what mounting the Docker socket grants: docs/containers.md.
ARG BASE=python:3.11-slim

# -- deps: a virtualenv with Medic's dependencies, reused until pyproject.toml changes --
FROM ${BASE} AS deps
# Extra options for pip: an offline build passes a wheelhouse made beforehand,
# "--no-index --find-links /src/container/wheels" (see scripts/build-medic-image.sh).
ARG PIP_INSTALL_OPTIONS=
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml ./
COPY container/wheels/ ./container/wheels/
# Medic itself goes to /opt/medic/app (a small layer of its own); a .pth file puts it
# on the virtualenv's path.
RUN python3 -m venv /opt/medic/venv \
 && /opt/medic/venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" >/tmp/requirements.txt \
 && /opt/medic/venv/bin/pip install --no-cache-dir $PIP_INSTALL_OPTIONS "setuptools>=77" wheel -r /tmp/requirements.txt \
 && echo /opt/medic/app >"$(/opt/medic/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/medic-app.pth"

# -- build: Medic, built and installed with the tools of the deps stage ----------------
FROM deps AS build
# Lets scripts/build-medic-image.sh find this stage's leftovers (untagged) and drop them.
LABEL io.medic.stage=build
COPY README.md LICENSE NOTICE setup.py MANIFEST.in ./
COPY daemon ./daemon
# Shipped inside the package (medic/share/): the example packs, the unit, the docs page.
COPY policies ./policies
COPY systemd ./systemd
COPY docs/deployment.md ./docs/deployment.md
RUN /opt/medic/venv/bin/pip install --no-cache-dir --no-deps --no-build-isolation \
      --target /opt/medic/app . \
 && /opt/medic/app/bin/medic --version

# -- venv: the dependencies without pip, setuptools and wheel (nothing installs at run time)
FROM deps AS venv
RUN /opt/medic/venv/bin/pip uninstall --yes --quiet setuptools wheel \
 && /opt/medic/venv/bin/python -m pip uninstall --yes --quiet pip

# -- the agent ----------------------------------------------------------------------
FROM ${BASE}
ARG MEDIC_UID=10001
# The unprivileged user the agent runs as (the entrypoint adds the socket's group).
# Written directly: minimal bases have no useradd.
RUN grep -q '^medic:' /etc/passwd \
 || { echo "medic:x:${MEDIC_UID}:${MEDIC_UID}:Medic agent:/var/lib/medic:/usr/sbin/nologin" >>/etc/passwd \
   && echo "medic:x:${MEDIC_UID}:" >>/etc/group; } \
 && command -v setpriv >/dev/null \
 && mkdir -p /etc/medic/policies /var/lib/medic \
 && chown medic:medic /var/lib/medic
COPY --from=venv /opt/medic/venv /opt/medic/venv
COPY --from=build /opt/medic/app /opt/medic/app
COPY container/medic.yaml /etc/medic/medic.yaml
COPY container/entrypoint.sh /usr/local/bin/medic-entrypoint
ENV PATH=/opt/medic/app/bin:/opt/medic/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \
    MEDIC_HEALTH_URL=http://127.0.0.1:9325/health

# State (the audit database) survives the container; policies come from outside: an
# empty /etc/medic/policies makes `medic validate` fail and `medic run` log
# policies.none at every load. The example packs are in the image, under
# /opt/medic/app/medic/share/policies (`medic init DIR` writes them with a config).
VOLUME ["/var/lib/medic", "/etc/medic/policies"]
EXPOSE 9325
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["/opt/medic/venv/bin/python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['MEDIC_HEALTH_URL'], timeout=4).read()"]
ENTRYPOINT ["/usr/local/bin/medic-entrypoint"]
CMD ["medic", "run", "--config", "/etc/medic/medic.yaml"]
