# TicketFlow: one image for every process (web, relay, consumers, Celery worker and beat,
# migrations). The command picks the role; the default is the web server.
#
#   docker build -t ticketflow:local .
#   docker run --env-file .env -p 8000:8000 ticketflow:local
#
# Pinned to a patch release of the Python 3.11 slim image; override with
# --build-arg PYTHON_IMAGE=python:3.11.x-slim-bookworm@sha256:... to pin a digest.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: resolve and install the dependencies into a virtualenv ----------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /build
# Only the lock file decides this layer, so editing code does not reinstall dependencies. It
# pins every release with its hashes (make lock writes it from pyproject.toml), so the image
# holds exactly what CI tested. The code is copied to /app in the runtime stage and run from
# there (templates/ and static/ sit beside the packages, as in the repository). Every
# dependency ships manylinux wheels, so no compiler is needed.
COPY requirements/runtime.lock ./
RUN pip install --upgrade pip \
    && pip install --require-hashes --requirement runtime.lock

# --- runtime --------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="TicketFlow" \
      org.opencontainers.image.description="Event ticketing that never oversells: a Django modular monolith with a transactional outbox, Kafka and a choreography saga." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/ticketflow/ticketflow" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# tini is PID 1: it forwards SIGTERM to the process (gunicorn, the relay and consumers
# finish the work in hand on SIGTERM) and reaps the children of exec health checks.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 ticketflow \
    && useradd --system --uid 10001 --gid ticketflow --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin ticketflow

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=ticketflow.settings \
    TICKETFLOW_VAR=/app/var \
    PORT=8000 \
    WEB_HOST=0.0.0.0

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# The code stays owned by root (read-only for the app user); .dockerignore keeps the build
# context to the code, templates, static files and deploy/gunicorn.conf.py.
COPY . /app

# Static files are collected at build time into STATIC_ROOT ($TICKETFLOW_VAR/static) with
# the production storage (hashed names + manifest, compressed), so the settings must load in
# production mode: the placeholders below exist only for this RUN, are not secrets, and no
# service is contacted. var/ then belongs to the app user (the Prometheus multiprocess
# directory of the web server lives there); the code is compiled once so a read-only root
# filesystem costs nothing at start-up.
RUN mkdir -p static templates /app/var/prometheus \
    && TICKETFLOW_ENV=production \
       DJANGO_SECRET_KEY=build-time-placeholder-not-a-secret-000000 \
       JWT_SECRET=build-time-placeholder-not-a-secret-000000 \
       POSTGRES_HOST=build.invalid POSTGRES_PASSWORD=unused POSTGRES_DOCUMENTS_DB=unused \
       REDIS_URL=redis://build.invalid:6379/0 KAFKA_BOOTSTRAP_SERVERS=build.invalid:9092 \
       SMTP_HOST=build.invalid \
       python manage.py collectstatic --noinput --verbosity 1 \
    && python -m compileall -q /app/ticketflow /app/apps /app/relay \
    && chown -R ticketflow:ticketflow /app/var

USER 10001:10001
EXPOSE 8000

# python:slim has no curl: ask /health with the standard library. A 503 (a dependency is
# down) raises HTTPError, so the check fails. Other roles override this (compose, k8s).
HEALTHCHECK --interval=30s --timeout=10s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=8)"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "ticketflow.asgi:application", "--config", "deploy/gunicorn.conf.py"]
