"""Settings for pytest: those of the processes tests start (the probe context installed), made quick."""

import os

from tests.process_settings import *  # noqa: F403

# Tests sign up and log in far faster than any person; the throttles have their own tests.
RATE_LIMITS = dict.fromkeys(RATE_LIMITS, "100000/m")  # noqa: F405
# The same for django-axes' lockout (from one address, 127.0.0.1); its tests lower it.
AXES_FAILURE_LIMIT = 100000

# A real password hash costs about a second on the build machines; tests hash thousands.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Each pytest session gets its own PostgreSQL test databases, so sessions run side by side
# (and a clone's `make test` beside a developer's) without dropping each other's tables.
for _alias, _database in DATABASES.items():  # noqa: F405
    if _database["ENGINE"] == "django.db.backends.postgresql":
        _database["TEST"] = {"NAME": f"test_{_database['NAME']}_{os.getpid()}"}
