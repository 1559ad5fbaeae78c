# The Medic agent image. No registry can be reached on the build machines, so the
# base image is a build argument: any image with python3 (>= 3.11) and venv.
#   docker build --build-arg BASE=python:3.11-slim -t medic .
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/medic
COPY pyproject.toml README.md ./
COPY daemon ./daemon
RUN python3 -m venv /opt/medic/venv \
 && /opt/medic/venv/bin/pip install --no-cache-dir . \
 && mkdir -p /etc/medic /var/lib/medic /policies
COPY policies /policies

VOLUME ["/var/lib/medic", "/policies"]
EXPOSE 9325
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD /opt/medic/venv/bin/python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:9325/health', timeout=4)" || exit 1
ENTRYPOINT ["/opt/medic/venv/bin/medic", "run", "--policies", "/policies", "--state-dir", "/var/lib/medic", "--log-format", "json"]
