"""ASGI entry point: Django, with long polls waited out in front of it (ticketflow.longpoll), and
the waiting room's queue long polls answered before that (apps.waitingroom.fastpath)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")

django_application = get_asgi_application()

from apps.waitingroom.fastpath import WaitingRoomFastPath  # noqa: E402 (needs the settings configured)
from ticketflow.longpoll import LongPollMiddleware  # noqa: E402

application = WaitingRoomFastPath(LongPollMiddleware(django_application))
