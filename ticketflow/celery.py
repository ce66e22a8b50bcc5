"""The Celery application: periodic sweeps (hold expiry, outbox pruning) and email sending."""

import os
from pathlib import Path
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")

app = Celery("ticketflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _spool_folders(sender: Celery, **kwargs: Any) -> None:
    """Create the folders of the embedded default's broker (Kombu's filesystem transport needs them).

    Settings only name them; this runs once per process, when the Celery app is first used.
    """
    if not str(sender.conf.broker_url).startswith("filesystem://"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
