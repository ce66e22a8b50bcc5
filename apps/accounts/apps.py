from typing import Any

from django.apps import AppConfig, apps
from django.db import router
from django.db.models.signals import post_migrate


def _ensure_staff_groups(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    """After a migrate (and a test flush), the staff groups exist with their permissions.

    Permissions are created per app by ``post_migrate`` too, in INSTALLED_APPS order, so they
    are created here first for the apps the groups draw on.
    """
    from django.contrib.auth.management import create_permissions
    from django.contrib.auth.models import Group

    from apps.accounts.services import STAFF_GROUPS, staff_groups_ensure

    if not router.allow_migrate_model(using, Group):
        return
    for label in sorted({perm.split(".")[0] for perms in STAFF_GROUPS.values() for perm in perms}):
        if apps.is_installed(f"apps.{label}"):
            create_permissions(apps.get_app_config(label), verbosity=0, using=using)
    staff_groups_ensure(using=using)


class AccountsConfig(AppConfig):
    """Users, registration, login (JWT) and roles. Lives on the "default" alias."""

    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(_ensure_staff_groups, sender=self, dispatch_uid="accounts.staff_groups")
