"""Settings of the processes tests start: the product's own in test mode, plus the probe context.

They keep production's rates, lockouts and password hashing (tests/settings.py, which
pytest itself reads, relaxes those). The test-only probe context exercises the event kernel
with misbehaving handlers; it is installed here, never in ``ticketflow.settings``.
"""

import os

os.environ.setdefault("TICKETFLOW_ENV", "test")

from ticketflow.routers import database_routers
from ticketflow.settings import *  # noqa: F403

INSTALLED_APPS.append("tests.probe")  # noqa: F405
CONTEXT_DATABASES["probe"] = "default"  # noqa: F405
DATABASE_ROUTERS = database_routers(CONTEXT_DATABASES)  # noqa: F405
