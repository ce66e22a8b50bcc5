"""TicketFlow: the project package (settings, routing, the event kernel)."""

from ticketflow.celery import app as celery_app

__all__ = ("celery_app",)
