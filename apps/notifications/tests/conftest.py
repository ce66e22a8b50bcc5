"""Fixtures: a real SMTP server in this process, eager Celery, the in-process event relay."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from pytest_django.fixtures import Settings

from ticketflow.celery import app as celery_app

SENDER = "TicketFlow <tickets@ticketflow.test>"


@dataclass(frozen=True)
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class MailServer:
    """An SMTP server on 127.0.0.1 that keeps every message.

    ``reject`` names recipients it refuses; ``data_reply``, when set, answers DATA instead
    of accepting the message (say, a greylisting 451).
    """

    port: int
    received: list[Received] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)
    data_reply: str | None = None
    _controller: Controller | None = None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        message = message_from_bytes(envelope.content, policy=policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[EmailMessage]:
        return [item.message for item in self.received]


def free_port() -> int:
    """A port nothing listens on (the OS just handed it out and it was closed again)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def point_email_at(settings: Settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = SENDER


@pytest.fixture
def mail_server(settings: Settings) -> Iterator[MailServer]:
    """A running SMTP server that Django sends to."""
    server = MailServer(port=free_port())
    server.start()
    point_email_at(settings, server.port)
    yield server
    server.stop()


@pytest.fixture
def mail_server_down(settings: Settings) -> Iterator[MailServer]:
    """Django sends to a port nothing listens on; ``start()`` brings the server up there."""
    server = MailServer(port=free_port())
    point_email_at(settings, server.port)
    yield server
    server.stop()


@pytest.fixture
def eager_retries(eager_celery: None) -> None:
    """Eager tasks whose retries run at once, countdown ignored, as Celery applies them eagerly.

    Celery only runs eager retries when task errors are not propagated (otherwise the
    ``Retry`` exception escapes ``.delay()``), so these tests see errors as results instead.
    """
    celery_app.conf.update(task_eager_propagates=False)
