"""Staff rights are Django model permissions, held through the staff groups, never ``is_staff`` alone."""

from __future__ import annotations

import uuid

import pytest
from django.contrib.auth.models import Group

from apps.accounts.services import STAFF_GROUPS, staff_groups_ensure
from apps.accounts.tests.conftest import Api
from apps.accounts.tests.factories import PASSWORD, UserFactory

pytestmark = [pytest.mark.embedded, pytest.mark.django_db(databases=["default", "documents"])]


def test_the_staff_groups_exist_after_migrate_with_exactly_their_permissions() -> None:
    groups = {
        group.name: sorted(f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all())
        for group in Group.objects.prefetch_related("permissions__content_type")
    }

    assert groups == {name: sorted(perms) for name, perms in STAFF_GROUPS.items()}


def test_ensuring_the_groups_again_changes_nothing() -> None:
    before = {g.pk: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()}

    staff_groups_ensure()

    assert {g.pk: set(g.permissions.values_list("pk", flat=True)) for g in Group.objects.all()} == before


@pytest.mark.parametrize(
    ("groups", "publish", "scan"),
    [
        ((), 403, 403),
        (("Door staff",), 403, 400),
        (("Organisers",), 404, 400),
    ],
    ids=["staff flag alone", "door staff", "organiser"],
)
def test_what_staff_may_do_in_the_api_is_what_their_groups_grant(
    api: Api, groups: tuple[str, ...], publish: int, scan: int
) -> None:
    # Given a staff member (is_staff: may open the admin) in the given groups
    user = UserFactory(email="staff@example.com", is_staff=True, organiser=False)
    user.groups.add(*Group.objects.filter(name__in=groups))
    token = api.login("staff@example.com", PASSWORD)["access"]

    # When they publish an unknown event and redeem a malformed ticket
    published = api.post(f"/api/events/{uuid.uuid4()}/publish", token=token)
    scanned = api.post("/api/checkin/redeem", {}, token=token)

    # Then each is refused for want of the permission, or reaches the view (404, 400)
    assert (published.status_code, scanned.status_code) == (publish, scan)
    if publish == 403:
        assert published.json()["error"]["code"] == "forbidden"


def test_a_superuser_holds_every_permission_without_a_group(api: Api) -> None:
    UserFactory(email="boss@example.com", is_staff=True, is_superuser=True, organiser=False)
    token = api.login("boss@example.com", PASSWORD)["access"]

    assert api.post(f"/api/events/{uuid.uuid4()}/publish", token=token).status_code == 404
