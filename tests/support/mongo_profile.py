"""Check the MongoDB profile as far as it goes without a server (run in a subprocess).

With MONGO_* set, settings must resolve to django-mongodb-backend for the "documents"
alias; system checks (including the backend's own, for that alias) must pass; and every
migration that runs on "documents" must render to MongoDB commands. Prints one JSON
report on stdout; any failure raises.
"""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ticketflow.settings")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, models, router  # noqa: E402
from django.db.backends.base import base as backend_base  # noqa: E402
from django.db.migrations.loader import MigrationLoader  # noqa: E402

ALIAS = "documents"


def main() -> dict[str, object]:
    connection = connections[ALIAS]
    assert connection.vendor == "mongodb", connection.vendor
    assert settings.DATABASES[ALIAS]["ENGINE"] == "django_mongodb_backend"
    assert connection.connection is None, "building the connection must not contact the server"

    call_command("check", verbosity=0)
    call_command("check", databases=[ALIAS], fail_level="WARNING", verbosity=0)

    silently_dropped = []
    for model in django.apps.apps.get_models():
        if not router.allow_migrate_model(ALIAS, model):
            continue
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint) or getattr(constraint, "expressions", ()):
                silently_dropped.append(f"{model._meta.label}.{constraint.name}")
        for index in model._meta.indexes:
            if index.expressions:
                silently_dropped.append(f"{model._meta.label}.{index.name}")
    assert not silently_dropped, f"MongoDB would silently skip: {silently_dropped}"

    # Render each migration for MongoDB without a server (Django's version probe skipped).
    backend_base.RAN_DB_VERSION_CHECK.add(ALIAS)
    loader = MigrationLoader(None, ignore_no_migrations=True)
    rendered: dict[str, int] = {}
    plan = list(
        dict.fromkeys(key for leaf in loader.graph.leaf_nodes() for key in loader.graph.forwards_plan(leaf))
    )
    for key in plan:
        app_label, _ = key
        if not router.allow_migrate(ALIAS, app_label):
            continue
        migration = loader.graph.nodes[key]
        state = loader.project_state(key, at_end=False)
        with connection.schema_editor(collect_sql=True, atomic=False) as editor:
            migration.apply(state, editor, collect_sql=True)
        rendered[".".join(key)] = len(editor.collected_sql)
    assert rendered, "no migration targets the documents alias"
    return {"engine": connection.vendor, "migrations": rendered}


if __name__ == "__main__":
    print(json.dumps(main()))
    sys.exit(0)
