"""The queue API: ``/api/events/{id}/queue``: join (POST), your place (GET, long poll), leave (DELETE)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from apps.waitingroom import feed, passes, services
from ticketflow import longpoll
from ticketflow.errors import InvalidInput

WAIT = OpenApiParameter(
    "wait",
    {"type": "number", "minimum": 0, "maximum": feed.MAX_WAIT_SECONDS},
    required=False,
    description=(
        f"Long poll: while waiting, answer as soon as you are admitted, or after this many seconds "
        f"(at most {feed.MAX_WAIT_SECONDS}) with your place as it is."
    ),
)

QueueOutput = inline_serializer(
    "QueueStatus",
    {
        "status": serializers.ChoiceField(choices=["waiting", "admitted", "closed"]),
        "position": serializers.IntegerField(allow_null=True, help_text="1 is next; 0 once admitted."),
        "estimated_wait_s": serializers.IntegerField(allow_null=True),
        "paused": serializers.BooleanField(),
        "admitted_until": serializers.DateTimeField(required=False),
        "token": serializers.CharField(
            required=False, help_text="Send as X-Queue-Token to POST /api/bookings."
        ),
        "queue_pass": serializers.CharField(
            required=False, help_text="Send as X-Queue-Pass to GET your place."
        ),
        "reason": serializers.CharField(required=False),
        "sale_starts_at": serializers.DateTimeField(required=False),
        "opens_at": serializers.DateTimeField(required=False),
    },
)


def _wait_seconds(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= feed.MAX_WAIT_SECONDS:
        raise InvalidInput(
            f"wait must be a number of seconds from 0 to {feed.MAX_WAIT_SECONDS}.",
            details={"fields": {"wait": [f"0 to {feed.MAX_WAIT_SECONDS}"]}},
        )
    return seconds


class QueueApi(APIView):
    """Your place in an event's waiting room.

    POST joins (or returns the place you hold: one per account), GET tells where you stand
    (with ``?wait=S`` a long poll that answers as soon as you are admitted), DELETE leaves.
    Once admitted, ``token`` goes in ``X-Queue-Token`` on ``POST /api/bookings``. GET also
    accepts the ``queue_pass`` of the answers in ``X-Queue-Pass`` instead of a session or JWT.
    """

    # api_settings imports the dotted paths: they are classes here, not the strings drf-stubs declares.
    authentication_classes = (*api_settings.DEFAULT_AUTHENTICATION_CLASSES, passes.QueuePassAuthentication)  # type: ignore[arg-type]

    @extend_schema(
        request=None, responses={200: QueueOutput, 404: OpenApiResponse(description="no such event")}
    )
    def post(self, request: Request, event_id: str) -> Response:
        place = services.queue_join(event_id=event_id, user_id=str(request.user.id))
        return Response(place.as_dict(), status=status.HTTP_200_OK)

    @extend_schema(
        parameters=[WAIT],
        responses={200: QueueOutput, 404: OpenApiResponse(description="not in the queue, or no such event")},
    )
    def get(self, request: Request, event_id: str) -> Response:
        wait = _wait_seconds(request)
        user_id = str(request.user.id)
        place = services.queue_status(event_id=event_id, user_id=user_id)
        if wait and place.status == "waiting":
            channel = services.admission_channel(event_id, user_id)
            if longpoll.deferrable(request):
                return longpoll.defer(
                    Response(place.as_dict()), channel=channel, seen="waiting", seconds=wait
                )
            if not longpoll.waited(request):
                feed.wait_for_admission(
                    channel,
                    lambda: services.queue_status(event_id=event_id, user_id=user_id).status != "waiting",
                    wait,
                )
                place = services.queue_status(event_id=event_id, user_id=user_id)
        return Response(place.as_dict())

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, event_id: str) -> Response:
        services.queue_leave(event_id=event_id, user_id=str(request.user.id))
        return Response(status=status.HTTP_204_NO_CONTENT)
