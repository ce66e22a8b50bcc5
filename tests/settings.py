"""Settings for pytest: the project's own, in test mode (which installs the probe context)."""

import os

os.environ.setdefault("TICKETFLOW_ENV", "test")

from ticketflow.settings import *  # noqa: F403
