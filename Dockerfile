# The backupwatch image: every role (worker, notifier, topic creation, simulator) is a
# `backupwatch` subcommand, so one image serves them all.
#
#   docker build -t backupwatch .
#   docker run --rm backupwatch --help
#
# Two stages: wheels are built with pip's full toolchain, the runtime stage installs
# only them (the runtime dependencies of pyproject.toml, no dev extras, no compiler).

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY schemas ./schemas
COPY streams ./streams
COPY agents ./agents
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# The version of pyproject.toml (a test keeps them equal); the repository the image is
# built from: docker build --build-arg SOURCE="$(git remote get-url origin)" .
ARG VERSION=0.1.0
ARG SOURCE=""
LABEL org.opencontainers.image.title="backupwatch" \
      org.opencontainers.image.description="Event-driven backup health monitoring for a fleet of endpoint devices, on Kafka and Faust" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    # Listen on every interface of the container (the default is loopback only).
    BACKUPWATCH_WEB_HOST=0.0.0.0 \
    BACKUPWATCH_NOTIFY_WEB_HOST=0.0.0.0 \
    # The RocksDB state of a worker; mount a volume here to keep restarts fast.
    BACKUPWATCH_DATA_DIR=/var/lib/backupwatch
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels backupwatch \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/backupwatch \
        --create-home backupwatch
USER 10001:10001
WORKDIR /var/lib/backupwatch
VOLUME ["/var/lib/backupwatch"]
# 6066: a worker's web server (/metrics, /healthz, /readyz, the API and dashboard);
# 6067: the notifier's (/metrics, /healthz).
EXPOSE 6066 6067
# Healthy while the worker's (or the notifier's) /healthz answers; a one-shot role
# (topics create, simulate) exits before the first check.
HEALTHCHECK --interval=30s --timeout=15s --start-period=60s --retries=3 \
    CMD ["python", "-m", "agents.healthcheck"]
ENTRYPOINT ["backupwatch"]
CMD ["worker"]
