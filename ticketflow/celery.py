"""The Celery application: periodic sweeps (hold expiry, outbox pruning) and email sending."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")

app = Celery("ticketflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
