"""The notifications API: a user's own recent notifications, and the context's health."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.notifications.health import run_checks
from apps.notifications.models import Notification, NotificationKind, NotificationStatus
from apps.notifications.selectors import notification_list_for_user


class NotificationRecentApi(GenericAPIView):
    """The signed-in user's notifications, newest first (``?page=``, ``?page_size=``)."""

    class OutputSerializer(serializers.Serializer):
        id = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=NotificationKind.choices)
        subject = serializers.CharField()
        status = serializers.ChoiceField(choices=NotificationStatus.choices)
        booking_id = serializers.SerializerMethodField()
        created_at = serializers.DateTimeField()
        sent_at = serializers.DateTimeField(allow_null=True)

        def get_booking_id(self, notification: Notification) -> str | None:
            return notification.booking_id or None

    serializer_class = OutputSerializer

    def get_queryset(self) -> QuerySet[Notification]:
        """The user's notifications (the browsable API asks for them too, to render its page)."""
        return notification_list_for_user(user_id=str(self.request.user.id))

    @extend_schema(responses={200: OutputSerializer(many=True)})
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.OutputSerializer(page, many=True).data)


@method_decorator(never_cache, name="dispatch")
class NotificationHealthApi(APIView):
    """Whether the notification store and the SMTP server answer: 200 up, or 503 naming what is down."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(
        responses={
            (200, "application/json"): inline_serializer(
                "NotificationHealth", {"status": serializers.CharField(), "checks": serializers.DictField()}
            ),
            (503, "application/json"): inline_serializer(
                "NotificationHealthDown",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(),
                    "failing": serializers.ListField(child=serializers.CharField()),
                },
            ),
        }
    )
    def get(self, request: Request) -> Response:
        checks = run_checks()
        down = sorted(name for name, result in checks.items() if result["status"] != "up")
        body: dict[str, object] = {"status": "down" if down else "up", "checks": checks}
        if down:
            body["failing"] = down
        return Response(body, status=503 if down else 200)
