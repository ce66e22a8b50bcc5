"""ASGI entry point: Django, with long polls waited out in front of it (ticketflow.longpoll)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")

django_application = get_asgi_application()

from ticketflow.longpoll import LongPollMiddleware  # noqa: E402 (needs the settings configured)

application = LongPollMiddleware(django_application)
