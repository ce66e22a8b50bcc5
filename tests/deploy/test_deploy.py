"""The deployment files: Dockerfile, Compose stack, Kubernetes manifests, Grafana dashboard.

The schema checks are the reference tools', run by ``deploy/validate/validate.sh`` (compose-go
for the Compose file; kubeconform, strict, against Kubernetes' and KEDA's own schemas for the
manifests). The tests here add what no schema knows: that the files agree with the code
(the variables it reads, the consumer groups it runs, the metrics it exports) and with each
other. None of them needs a container engine, a cluster or a running service.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ticketflow.config import Environment

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = ROOT / "deploy" / "validate" / "validate.sh"
COMPOSE_FILE = ROOT / "deploy" / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
ENV_EXAMPLE = ROOT / ".env.example"
DASHBOARD = ROOT / "deploy" / "grafana" / "ticketflow-dashboard.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"

# The consumer groups and what each consumes: the deployment contract of the event catalogue.
CONTEXT_TOPICS = {
    "inventory": {
        "ticketflow.event.created",
        "ticketflow.event.updated",
        "ticketflow.booking.initiated",
        "ticketflow.seats.confirm",
        "ticketflow.seats.release",
        "ticketflow.seats.reacquire",
        "ticketflow.booking.cancelled",
        "ticketflow.booking.seats-cancelled",
    },
    "bookings": {
        "ticketflow.event.created",
        "ticketflow.event.updated",
        "ticketflow.seats.locked",
        "ticketflow.seats.lock-failed",
        "ticketflow.payment.processed",
        "ticketflow.payment.refunded",
        "ticketflow.tickets.issued",
        "ticketflow.tickets.revoked",
        "ticketflow.ticket.scanned",
        "ticketflow.tickets.transferred",
    },
    "payments": {
        "ticketflow.payment.requested",
        "ticketflow.payment.refund-requested",
        "ticketflow.booking.expired",
        "ticketflow.booking.cancelled",
    },
    "waitingroom": {"ticketflow.event.created", "ticketflow.event.updated"},
    "notifications": {
        "ticketflow.user.registered",
        "ticketflow.user.sign-up-attempted",
        "ticketflow.tickets.issued",
        "ticketflow.booking.failed",
        "ticketflow.booking.cancelled",
        "ticketflow.booking.seats-cancelled",
        "ticketflow.booking.expired",
        "ticketflow.payment.refunded",
        "ticketflow.ticket.transfer-requested",
        "ticketflow.tickets.transferred",
        "ticketflow.waitlist.offer-made",
    },
    "checkin": {
        "ticketflow.booking.confirmed",
        "ticketflow.booking.cancelled",
        "ticketflow.booking.seats-cancelled",
        "ticketflow.payment.refunded",
        "ticketflow.ticket.transfer-accepted",
    },
}

# Compose services built from the Dockerfile (the seed service is behind the "seed" profile).
APP_SERVICES = {
    "migrate",
    "web",
    "relay",
    "consumer-inventory",
    "consumer-bookings",
    "consumer-payments",
    "consumer-notifications",
    "consumer-checkin",
    "consumer-waitingroom",
    "worker",
    "beat",
}

# The original product README's environment table; the last seven do not apply here.
SEED_VARIABLES = {
    "JWT_SECRET",
    "JWT_EXPIRY_HOURS",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "MONGO_INITDB_ROOT_USERNAME",
    "MONGO_INITDB_ROOT_PASSWORD",
    "REDIS_PASSWORD",
    "KAFKA_BOOTSTRAP_SERVERS",
    "SMTP_HOST",
    "SMTP_PORT",
    "EMAIL_FROM",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "PROMETHEUS_ENABLED",
    "LOG_LEVEL",
}
SEED_ONLY_VARIABLES = {
    "USER_SERVICE_URL",
    "EVENT_SERVICE_URL",
    "BOOKING_SERVICE_URL",
    "INVENTORY_SERVICE_URL",
    "PAYMENT_SERVICE_URL",
    "NOTIFICATION_SERVICE_URL",
    "OTEL_EXPORTER_JAEGER_ENDPOINT",
}

# What the code exports to Prometheus (ticketflow/messaging/metrics.py, ticketflow/metrics.py,
# the booking funnel, check-in, django-prometheus). Histograms are queried through their series.
COUNTERS_AND_GAUGES = {
    "ticketflow_outbox_backlog",
    "ticketflow_outbox_oldest_pending_seconds",
    "ticketflow_outbox_published_total",
    "ticketflow_outbox_publish_failures_total",
    "ticketflow_consumer_messages_total",
    "ticketflow_consumer_retries_total",
    "ticketflow_dead_letters_total",
    "ticketflow_consumer_lag",
    "ticketflow_bookings_total",
    "ticketflow_bookings_turned_away_total",
    "ticketflow_ratelimit_throttled_total",
    "ticketflow_consumer_batch_fallbacks_total",
    "ticketflow_checkin_scans_total",
    "ticketflow_checkin_tickets",
    "ticketflow_bookings_timed_out_total",
    "ticketflow_seats_swept_total",
    "ticketflow_waitlist_changes_total",
    "ticketflow_sweep_runs_total",
    "ticketflow_sweep_items_total",
    "ticketflow_sweep_last_success_timestamp_seconds",
    "ticketflow_accounts_sign_ins_ended_total",
    "ticketflow_accounts_refresh_reuse_total",
    "ticketflow_payments_webhooks_total",
    "ticketflow_payments_reconciled_total",
    "ticketflow_payments_intents_cancelled_total",
    "ticketflow_payments_refunds_total",
    "ticketflow_bookings_partial_cancellations_total",
    "ticketflow_bookings_seats_cancelled_total",
    "ticketflow_waitingroom_queue_length",
    "ticketflow_waitingroom_active_shoppers",
    "ticketflow_waitingroom_admitted_total",
    "ticketflow_waitingroom_abandoned_total",
    "ticketflow_waitingroom_windows_ended_total",
    "ticketflow_waitingroom_closed_answers_total",
    "django_http_responses_total_by_status_view_method_total",
}
HISTOGRAMS = {
    "ticketflow_outbox_commit_to_publish_seconds",
    "ticketflow_consumer_batch_size",
    "ticketflow_consumer_handler_seconds",
    "ticketflow_booking_saga_seconds",
    "ticketflow_waitingroom_wait_seconds",
    "django_http_requests_latency_seconds_by_view_method",
}
EXPORTED_SERIES = COUNTERS_AND_GAUGES | {
    f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")
}

# deploy/gunicorn.conf.py reads a few variables of its own besides ticketflow/config.py.
GUNICORN_VARIABLES = set(
    re.findall(r"os\.environ\.get\(\s*[\"'](\w+)[\"']", (ROOT / "deploy" / "gunicorn.conf.py").read_text())
)
CODE_VARIABLES = set(Environment.model_fields) | GUNICORN_VARIABLES


# --- helpers ---------------------------------------------------------------------------------


def run_validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(VALIDATE), *args], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


def env_example() -> tuple[dict[str, str], set[str]]:
    """The variables .env.example sets (name -> value) and those it only mentions, commented."""
    assigned: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            assigned[match[1]] = match[2]
        elif match := re.fullmatch(r"# ([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(match[1])
    return assigned, commented


def k8s_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def k8s_objects(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in k8s_documents() if doc["kind"] == kind}


def pod_containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    spec = workload["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def image_is_pinned(image: str) -> bool:
    name, _, tag = image.rpartition(":")
    return bool(name) and "/" not in tag and tag not in {"", "latest"}


# Binary operators, modifiers and grouping keywords: identifiers that are not metrics.
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
PROMQL_KEYWORDS |= {"group_left", "group_right"}


def promql_metrics(expr: str) -> set[str]:
    """Metric names an expression selects (identifiers that are not functions or keywords)."""
    expr = re.sub(r"label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)\s*,[^)]*\)", r"\1", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*", expr):
        if expr[match.end() :].lstrip().startswith("(") or match[0] in PROMQL_KEYWORDS:
            continue
        names.add(match[0])
    return names


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries = []
    panels = list(dashboard["panels"])
    while panels:
        panel = panels.pop()
        panels += panel.get("panels", [])
        queries += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            queries.append(variable["query"]["query"])
    return queries


# --- the reference validators ------------------------------------------------------------------


@pytest.fixture(scope="session")
def validated() -> dict[str, Any]:
    """Run validate.sh once; the Compose model it resolved is what the Compose tests inspect."""
    result = run_validate()
    assert result.returncode == 0, f"deploy/validate/validate.sh failed:\n{result.stdout}\n{result.stderr}"
    state = Path(os.environ.get("TICKETFLOW_VALIDATE_DIR", ROOT / "var" / "validate"))
    return json.loads((state / "out" / "compose.json").read_text())


@pytest.fixture(scope="session")
def compose_services(validated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return validated["services"]


@pytest.mark.embedded
def test_compose_file_and_manifests_pass_the_reference_validators(validated: dict[str, Any]) -> None:
    result = run_validate()  # warm: the tools and schemas are cached

    assert result.returncode == 0, result.stderr
    assert "compose: " + str(COMPOSE_FILE) + " is valid (22 services:" in result.stdout
    assert "Summary: 39 resources found in 15 files - Valid: 39, Invalid: 0, Errors: 0" in result.stdout
    assert "Summary: 38 resources found in 1 file - Valid: 38, Invalid: 0, Errors: 0" in result.stdout
    assert "validate: all deployment files are valid" in result.stdout


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("file", "good", "bad", "message"),
    [
        ("relay.yaml", "  replicas: 2\n", "  replica: 2\n", "additional properties 'replica' not allowed"),
        (
            "relay.yaml",
            "  replicas: 2\n",
            "  replicas: two\n",
            "at '/spec/replicas': got string, want integer",
        ),
        (
            "web.yaml",
            "              containerPort: 8000\n",
            "              containerPort: http\n",
            "containerPort': got string, want integer",
        ),
        (
            "consumer-payments.yaml",
            "  maxReplicaCount: 6\n",
            "  maxReplicasCount: 6\n",
            "additional properties 'maxReplicasCount' not allowed",
        ),
        (
            "consumer-payments.yaml",
            "  minReplicaCount: 1\n",
            "  minReplicaCount: one\n",
            "at '/spec/minReplicaCount': got string, want integer",
        ),
        (
            "configmap.yaml",
            "  name: ticketflow-config\n",
            "  name: ticketflow-config\n  lables: {a: b}\n",
            "additional properties 'lables' not allowed",
        ),
    ],
    ids=["misspelt-field", "wrong-type", "port-name", "scaledobject-field", "scaledobject-type", "metadata"],
)
def test_kubernetes_validation_rejects_a_broken_manifest(
    validated: dict[str, Any], tmp_path: Path, file: str, good: str, bad: str, message: str
) -> None:
    broken = tmp_path / "k8s"
    shutil.copytree(K8S, broken)
    text = (broken / file).read_text()
    assert text.count(good) == 1
    (broken / file).write_text(text.replace(good, bad))

    result = run_validate("k8s", str(broken))

    assert result.returncode == 1
    assert message in result.stdout
    assert f"validate: FAILED: manifests in {broken} do not match" in result.stderr


@pytest.mark.embedded
@pytest.mark.parametrize(
    ("good", "bad", "message"),
    [
        ("  stop_grace_period: 30s\n", "  stop_grace_periods: 30s\n", ".stop_grace_periods false schema"),
        ("  read_only: true\n", "  read_only: sometimes\n", "read_only: failed to cast to expected type"),
        ("      mongo-init:\n", "      mongo-initt:\n", 'depends on undefined service "mongo-initt"'),
    ],
    ids=["misspelt-key", "wrong-type", "unknown-dependency"],
)
def test_compose_validation_rejects_a_broken_file(
    validated: dict[str, Any], tmp_path: Path, good: str, bad: str, message: str
) -> None:
    text = COMPOSE_FILE.read_text()
    assert text.count(good) == 1
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(good, bad))

    result = run_validate("compose", str(broken))

    assert result.returncode == 1
    assert message in result.stderr
    assert f"validate: FAILED: {broken} is not a valid Compose file" in result.stderr


# --- the environment ---------------------------------------------------------------------------


@pytest.mark.embedded
def test_env_example_mentions_every_variable_the_code_reads() -> None:
    assigned, commented = env_example()

    assert CODE_VARIABLES - set(assigned) - commented == set()


@pytest.mark.embedded
def test_env_example_sets_only_variables_the_code_reads() -> None:
    assigned, _ = env_example()

    assert set(assigned) - set(Environment.model_fields) == set()
    assert "" not in assigned.values()


@pytest.mark.embedded
def test_env_example_keeps_the_seed_variables_and_comments_out_those_that_do_not_apply() -> None:
    assigned, commented = env_example()

    assert SEED_VARIABLES - set(assigned) - commented == set()
    assert commented >= SEED_ONLY_VARIABLES
    assert SEED_ONLY_VARIABLES & set(assigned) == set()


@pytest.mark.embedded
def test_compose_app_services_are_built_from_the_dockerfile(compose_services: dict[str, Any]) -> None:
    built = {name for name, service in compose_services.items() if "build" in service}

    assert built == APP_SERVICES
    for name in APP_SERVICES:
        assert compose_services[name]["build"]["dockerfile"] == "Dockerfile"
        assert compose_services[name]["build"]["context"] == str(ROOT)
        assert compose_services[name]["env_file"] == [{"path": str(ROOT / ".env")}]


@pytest.mark.embedded
@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_compose_app_service_gets_only_variables_the_code_reads(
    compose_services: dict[str, Any], service: str
) -> None:
    assigned, _ = env_example()  # the content of env_file (.env is a copy of .env.example)
    names = set(compose_services[service].get("environment", {})) | set(assigned)

    assert names - CODE_VARIABLES == set()


@pytest.mark.embedded
@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_compose_app_service_gets_everything_production_requires(
    compose_services: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assigned, _ = env_example()
    effective = {**assigned, **compose_services[service].get("environment", {})}
    placeholders = sorted(name for name, value in effective.items() if "change-me" in value)
    for name in Environment.model_fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in effective.items():
        monkeypatch.setenv(name, value)

    # Copied as it is, the template does not start: every placeholder is named.
    refused = Environment().missing_for_production()
    assert sorted(problem.split(" ")[0] for problem in refused) == placeholders
    assert all("placeholder" in problem for problem in refused)

    # With each change-me value replaced by a generated one, it does.
    generated = {name: secrets.token_urlsafe(48) for name in placeholders}
    for name, value in generated.items():
        monkeypatch.setenv(name, value)
    environment = Environment()

    assert environment.production
    assert environment.missing_for_production() == []
    assert environment.POSTGRES_HOST == "postgres"
    mongo_password = generated["MONGO_INITDB_ROOT_PASSWORD"]
    assert environment.mongo_uri == (
        f"mongodb://ticketflow:{mongo_password}@mongo:27017/?replicaSet=rs0&authSource=admin"
    )
    assert environment.redis_url == f"redis://:{generated['REDIS_PASSWORD']}@redis:6379/0"
    assert environment.KAFKA_BOOTSTRAP_SERVERS == "kafka:9092"
    assert environment.SMTP_HOST == "mailpit"
    assert environment.OTEL_EXPORTER_OTLP_ENDPOINT == "http://jaeger:4318"


@pytest.mark.embedded
def test_compose_starts_the_app_after_migrations_and_healthy_services(
    compose_services: dict[str, Any],
) -> None:
    migrate = compose_services["migrate"]["depends_on"]
    assert {name: dep["condition"] for name, dep in migrate.items()} == {
        "postgres": "service_healthy",
        "mongo-init": "service_completed_successfully",
    }
    assert compose_services["mongo-init"]["depends_on"]["mongo"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        depends_on = {dep: value["condition"] for dep, value in compose_services[name]["depends_on"].items()}
        assert depends_on == {
            "migrate": "service_completed_successfully",
            "redis": "service_healthy",
            "kafka": "service_healthy",
            "mailpit": "service_started",
        }
    for name in ("postgres", "mongo", "redis", "kafka"):
        assert compose_services[name]["healthcheck"]["test"][0] in {"CMD", "CMD-SHELL"}


@pytest.mark.embedded
def test_compose_pins_every_image(compose_services: dict[str, Any]) -> None:
    for name, service in compose_services.items():
        if name in APP_SERVICES:
            assert service["image"] == "ticketflow:local"
        else:
            assert image_is_pinned(service["image"]), f"{name}: {service['image']}"


@pytest.mark.embedded
def test_compose_runs_one_consumer_service_per_context(compose_services: dict[str, Any]) -> None:
    consumers = {name: s["command"] for name, s in compose_services.items() if name.startswith("consumer-")}

    assert consumers == {
        f"consumer-{context}": ["python", "manage.py", "consume", context, "--metrics-port", "9100"]
        for context in CONTEXT_TOPICS
    }


@pytest.mark.embedded
def test_the_handler_registry_consumes_nothing_the_deployment_does_not_subscribe() -> None:
    # Runs under pytest-django's settings, after every app's ready(). While the contexts are
    # still being written the registry may be empty; what it holds must be deployed. Test-only
    # contexts (tests.probe, installed by the test settings) are not part of the product.
    from django.apps import apps

    from ticketflow.messaging.handlers import consumer_group, contexts, topics_for

    registered = [context for context in contexts() if apps.get_app_config(context).name.startswith("apps.")]

    assert set(registered) <= set(CONTEXT_TOPICS)
    for context in registered:
        assert set(topics_for(context)) <= CONTEXT_TOPICS[context]
        assert consumer_group(context).endswith(f"ticketflow.{context}")


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    instructions = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


@pytest.mark.embedded
def test_dockerfile_is_multi_stage_and_runs_as_a_non_root_user_with_a_healthcheck() -> None:
    instructions = dockerfile_instructions()
    stages = [rest for keyword, rest in instructions if keyword == "FROM"]
    final = instructions[max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM") :]
    final_keywords = [keyword for keyword, _ in final]

    assert instructions[0] == ("ARG", "PYTHON_IMAGE=python:3.11.14-slim-bookworm")
    assert stages == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    assert ("COPY", "requirements/runtime.lock ./") in instructions
    assert any(
        k == "RUN" and "pip install --require-hashes --requirement runtime.lock" in rest
        for k, rest in instructions[: len(instructions) - len(final)]
    )
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in final
    assert [rest for keyword, rest in final if keyword == "USER"] == ["10001:10001"]
    assert final_keywords.index("USER") > max(i for i, k in enumerate(final_keywords) if k in {"RUN", "COPY"})
    healthcheck = [rest for keyword, rest in final if keyword == "HEALTHCHECK"]
    assert len(healthcheck) == 1
    assert "urllib.request.urlopen('http://127.0.0.1:%s/health'" in healthcheck[0]
    assert [rest for keyword, rest in final if keyword == "CMD"] == [
        '["gunicorn", "ticketflow.asgi:application", "--config", "deploy/gunicorn.conf.py"]'
    ]
    assert any(k == "RUN" and "python manage.py collectstatic --noinput" in rest for k, rest in final)
    assert any(k == "ENV" and "TICKETFLOW_VAR=/app/var" in rest for k, rest in final)
    assert any(k == "LABEL" and "org.opencontainers.image.source=" in rest for k, rest in final)


@pytest.mark.embedded
def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image() -> None:
    patterns = {line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}

    assert {
        ".git",
        ".venv",
        "var",
        ".env",
        ".env.*",
        "tests",
        "deploy",
        "!deploy/gunicorn.conf.py",
    } <= patterns


# --- Kubernetes --------------------------------------------------------------------------------


@pytest.mark.embedded
def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}

    assert sorted(kustomization["resources"]) == sorted(files)
    assert kustomization["namespace"] == "ticketflow"
    assert all(image_is_pinned(f"{i['name']}:{i['newTag']}") for i in kustomization["images"])


@pytest.mark.embedded
def test_k8s_config_and_secret_hold_only_variables_the_code_reads_and_all_production_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = k8s_objects("ConfigMap")["ticketflow-config"]["data"]
    secret = k8s_objects("Secret")["ticketflow-secrets"]["stringData"]

    assert set(config) & set(secret) == set()
    assert (set(config) | set(secret)) - set(Environment.model_fields) == set()
    for name in Environment.model_fields:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**config, **secret}.items():
        monkeypatch.setenv(name, value)
    # The example Secret's change-me values are refused until replaced by generated ones.
    placeholders = sorted(name for name, value in secret.items() if "change-me" in value)
    assert sorted(problem.split(" ")[0] for problem in Environment().missing_for_production()) == placeholders
    for name in placeholders:
        monkeypatch.setenv(name, secrets.token_urlsafe(48))
    assert Environment().missing_for_production() == []


@pytest.mark.embedded
def test_k8s_workloads_run_the_deployment_contract() -> None:
    deployments = k8s_objects("Deployment")
    commands = {
        name: d["spec"]["template"]["spec"]["containers"][0]["args"] for name, d in deployments.items()
    }

    assert commands == {
        "ticketflow-web": ["gunicorn", "ticketflow.asgi:application", "--config", "deploy/gunicorn.conf.py"],
        "ticketflow-relay": ["python", "manage.py", "relay", "--metrics-port", "9100"],
        **{
            f"ticketflow-consumer-{context}": [
                "python",
                "manage.py",
                "consume",
                context,
                "--metrics-port",
                "9100",
            ]
            for context in CONTEXT_TOPICS
        },
        "ticketflow-worker": ["celery", "-A", "ticketflow", "worker", "--loglevel", "INFO"],
        "ticketflow-beat": [
            *["celery", "-A", "ticketflow", "beat", "--loglevel", "INFO"],
            *["--schedule", "/tmp/celerybeat-schedule"],  # noqa: S108 - the pod's emptyDir
        ],
    }
    beat = deployments["ticketflow-beat"]["spec"]
    assert (beat["replicas"], beat["strategy"]) == (1, {"type": "Recreate"})
    migrate = k8s_objects("Job")["ticketflow-migrate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert migrate == [
        "sh",
        "-c",
        "python manage.py migrate --noinput && python manage.py migrate --database documents --noinput",
    ]


@pytest.mark.embedded
def test_every_k8s_container_is_pinned_bounded_and_locked_down() -> None:
    workloads = [*k8s_objects("Deployment").values(), *k8s_objects("Job").values()]
    assert len(workloads) == 11
    for workload in workloads:
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        volumes = {volume["name"]: volume for volume in pod["volumes"]}
        for container in pod_containers(workload):
            where = f"{workload['metadata']['name']}/{container['name']}"
            assert image_is_pinned(container["image"]), where
            for bound in ("requests", "limits"):
                assert set(container["resources"][bound]) == {"cpu", "memory"}, where
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }, where
            mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], where  # noqa: S108


@pytest.mark.embedded
def test_k8s_containers_set_only_variables_the_code_reads() -> None:
    for workload in [*k8s_objects("Deployment").values(), *k8s_objects("Job").values()]:
        for container in pod_containers(workload):
            env = container.get("env", [])
            references = {ref for item in env for ref in re.findall(r"\$\((\w+)\)", item.get("value", ""))}
            helpers = {item["name"] for item in env} - CODE_VARIABLES
            assert helpers <= references, f"{workload['metadata']['name']}: {helpers}"
            assert [
                source.get("configMapRef", source.get("secretRef"))["name"] for source in container["envFrom"]
            ] == [
                "ticketflow-config",
                "ticketflow-secrets",
            ]


@pytest.mark.embedded
def test_long_running_k8s_containers_have_probes() -> None:
    for name, deployment in k8s_objects("Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "livenessProbe" in container, name
    web = k8s_objects("Deployment")["ticketflow-web"]
    container = web["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert {item["name"]: item.get("value") for item in container["env"]}["ALLOWED_HOSTS"] == (
        "$(ALLOWED_HOSTS),$(POD_IP),localhost"
    )


@pytest.mark.embedded
def test_k8s_disruption_budgets_and_autoscalers_target_existing_workloads() -> None:
    deployments = k8s_objects("Deployment")
    labels = {name: d["spec"]["selector"]["matchLabels"] for name, d in deployments.items()}
    budgets = {
        name: b["spec"]["selector"]["matchLabels"] for name, b in k8s_objects("PodDisruptionBudget").items()
    }

    assert budgets == {name: labels[name] for name in deployments if name != "ticketflow-beat"}
    hpa = k8s_objects("HorizontalPodAutoscaler")["ticketflow-web"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "ticketflow-web"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert "replicas" not in deployments["ticketflow-web"]["spec"]


@pytest.mark.embedded
def test_keda_scales_each_consumer_group_on_its_own_topics_within_the_partitions() -> None:
    deployments = k8s_objects("Deployment")
    config = k8s_objects("ConfigMap")["ticketflow-config"]["data"]
    partitions = int(config["KAFKA_TOPIC_PARTITIONS"])
    scaled = k8s_objects("ScaledObject")

    assert set(scaled) == {f"ticketflow-consumer-{context}" for context in CONTEXT_TOPICS}
    for name, scaled_object in scaled.items():
        context = name.removeprefix("ticketflow-consumer-")
        spec = scaled_object["spec"]
        assert spec["scaleTargetRef"] == {"name": name}
        assert name in deployments
        assert "replicas" not in deployments[name]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
        triggers = spec["triggers"]
        assert {trigger["type"] for trigger in triggers} == {"kafka"}
        assert {trigger["metadata"]["topic"] for trigger in triggers} == CONTEXT_TOPICS[context]
        assert len(triggers) == len(CONTEXT_TOPICS[context])
        for trigger in triggers:
            metadata = trigger["metadata"]
            assert metadata["consumerGroup"] == f"ticketflow.{context}"
            assert metadata["bootstrapServersFromEnv"] == "KAFKA_BOOTSTRAP_SERVERS"
            assert "KAFKA_BOOTSTRAP_SERVERS" in config
            assert metadata["offsetResetPolicy"] == "earliest"
            assert int(metadata["lagThreshold"]) > 0


# --- Prometheus and Grafana --------------------------------------------------------------------


@pytest.mark.embedded
def test_promql_metric_extraction() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, consumer) "
        '(rate(a_bucket{consumer=~"$consumer"}[$__rate_interval])))'
        " / on (x) group_left sum(b) without (y) + max(c offset 5m) > bool 1"
    )

    assert promql_metrics(expr) == {"a_bucket", "b", "c"}
    assert promql_metrics("label_values(d_total, consumer)") == {"d_total"}


@pytest.mark.embedded
def test_dashboard_queries_only_metrics_the_code_exports() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    used = set().union(*(promql_metrics(query) for query in dashboard_queries(dashboard)))

    assert used <= EXPORTED_SERIES
    assert used == {
        "ticketflow_bookings_total",
        "ticketflow_booking_saga_seconds_bucket",
        "ticketflow_outbox_backlog",
        "ticketflow_outbox_oldest_pending_seconds",
        "ticketflow_outbox_commit_to_publish_seconds_bucket",
        "ticketflow_outbox_published_total",
        "ticketflow_outbox_publish_failures_total",
        "ticketflow_consumer_lag",
        "ticketflow_consumer_messages_total",
        "ticketflow_consumer_handler_seconds_bucket",
        "ticketflow_dead_letters_total",
        "ticketflow_consumer_retries_total",
        "ticketflow_checkin_scans_total",
        "ticketflow_checkin_tickets",
        "ticketflow_bookings_turned_away_total",
        "ticketflow_ratelimit_throttled_total",
        "ticketflow_consumer_batch_size_bucket",
        "ticketflow_consumer_batch_fallbacks_total",
        "ticketflow_bookings_timed_out_total",
        "ticketflow_seats_swept_total",
        "ticketflow_waitlist_changes_total",
        "ticketflow_sweep_last_success_timestamp_seconds",
        "ticketflow_accounts_sign_ins_ended_total",
        "ticketflow_accounts_refresh_reuse_total",
        "ticketflow_payments_webhooks_total",
        "ticketflow_payments_reconciled_total",
        "ticketflow_payments_intents_cancelled_total",
        "ticketflow_bookings_partial_cancellations_total",
        "ticketflow_bookings_seats_cancelled_total",
        "ticketflow_payments_refunds_total",
        "ticketflow_waitingroom_queue_length",
        "ticketflow_waitingroom_active_shoppers",
        "ticketflow_waitingroom_admitted_total",
        "ticketflow_waitingroom_abandoned_total",
        "ticketflow_waitingroom_windows_ended_total",
        "ticketflow_waitingroom_closed_answers_total",
        "ticketflow_waitingroom_wait_seconds_bucket",
        "django_http_requests_latency_seconds_by_view_method_bucket",
        "django_http_responses_total_by_status_view_method_total",
    }
    assert dashboard["uid"] == "ticketflow"


@pytest.mark.embedded
def test_alert_rules_query_only_metrics_the_code_exports() -> None:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    used = set().union(*(promql_metrics(rule["expr"]) for group in groups for rule in group["rules"]))

    assert used <= EXPORTED_SERIES | {"up"}


@pytest.mark.embedded
def test_grafana_is_provisioned_with_the_dashboards_datasource(compose_services: dict[str, Any]) -> None:
    provisioning = ROOT / "deploy" / "compose" / "grafana" / "provisioning"
    datasource = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    provider = yaml.safe_load((provisioning / "dashboards" / "ticketflow.yml").read_text())
    mounts = {volume["target"]: volume.get("source") for volume in compose_services["grafana"]["volumes"]}
    default = json.loads(DASHBOARD.read_text())["templating"]["list"][0]["current"]["value"]

    assert [(d["uid"], d["type"], d["url"]) for d in datasource["datasources"]] == [
        ("prometheus", "prometheus", "http://prometheus:9090")
    ]
    assert default == "prometheus"
    assert mounts[provider["providers"][0]["options"]["path"]] == str(ROOT / "deploy" / "grafana")
    assert os.path.isfile(mounts["/etc/grafana/provisioning"] + "/datasources/prometheus.yml")
