"""gunicorn settings for every environment (values from the environment, sane defaults)."""

import os

from prometheus_client import multiprocess

# Loopback unless told otherwise: a laptop's `make run` is not served to its network. The image
# sets WEB_HOST=0.0.0.0, since a container is reached through its published port.
bind = f"{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# ASGI (uvicorn) workers: a long poll waiting for its booking holds a coroutine, not a
# thread, so a flash sale's waiting buyers cost no worker capacity. Sync views still run,
# each request on a thread of its own; on PostgreSQL, POSTGRES_POOL_SIZE gives them a pool.
worker_class = "uvicorn_worker.UvicornWorker"
# Read by the workers' settings: without a pool, every request's fresh thread would open
# (and leak until collected) a PostgreSQL connection of its own.
os.environ.setdefault("POSTGRES_POOL_SIZE", "8")
timeout = 30
graceful_timeout = 20
# Longer than clients and load balancers keep idle connections (60 s is common), so the
# server never closes one just as a client sends on it.
keepalive = 75
accesslog = "-"
errorlog = "-"
# Health probes and metrics scrapes are not worth a log line each.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def child_exit(server, worker):
    """Let /metrics forget a worker that exited (prometheus_client multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
