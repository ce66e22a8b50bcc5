"""Waiting-room benchmark: what 10,000 queued buyers long-polling their place cost the web.

The web runs as in production (gunicorn with uvicorn workers, the Procfile's command and
deploy/gunicorn.conf.py) on a Redis of the benchmark's own (a throwaway ``redis-server``,
so 10,000 waiters never touch the Redis other work shares) and the benchmark databases.
An event's queue is on, letting in one buyer a minute; 10,000 accounts are in it. A
client process (asyncio streams, plain HTTP/1.1 keep-alive, no HTTP library in the way)
opens one connection per buyer and long-polls ``GET /api/events/{id}/queue?wait=S`` with
the buyer's queue pass, again as soon as each answer arrives, exactly as the waiting-room
page does. Once every client is connected, the web's CPU (gunicorn's master and workers,
from /proc) is measured over a window and reported as a share of one core, with every
answer's status: the goal is at most 20 % of one core and no 5xx at all.

Run: ``source deploy/local/env.sh && python -m bench waiting_room [--clients N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.flash_sale import free_port, process_tree_cpu, web_command
from bench.support import RESULTS, ROOT, percentile, setup_django, stop_processes, table

GOAL_PERCENT_OF_A_CORE = 20.0


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench waiting_room")
    parser.add_argument("--clients", type=int, default=10_000)
    parser.add_argument("--wait", type=float, default=50.0, help="the long poll's ?wait= (seconds)")
    parser.add_argument(
        "--window", type=float, default=None, help="seconds measured once all wait (default: two long polls)"
    )
    parser.add_argument(
        "--settle", type=float, default=20.0, help="seconds between the last connection and the measurement"
    )
    parser.add_argument("--ramp", type=float, default=250.0, help="connections opened per second (arrivals)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--work", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _raise_open_files()
    # A whole number of long polls: every client asks exactly that many times in the window.
    args.window = args.window or 2 * args.wait
    if args.client:
        asyncio.run(_clients(args))
        return {}
    return _run(args)


def _raise_open_files() -> None:
    """Every waiter is a socket on each side (and gunicorn's workers hold half each)."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class _Redis:
    """A redis-server of the benchmark's own, on a free port, gone afterwards."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="tf-bench-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> _Redis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--maxclients", "20000", "--dir", str(self.root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            stop_processes([self.process])
        shutil.rmtree(self.root, ignore_errors=True)


def _run(args: argparse.Namespace) -> dict[str, object]:
    with _Redis() as redis_server:
        os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis_server.port}/0"
        os.environ.pop("REDIS_PASSWORD", None)
        namespace = f"benchwr{uuid.uuid4().hex[:6]}-"
        setup_django(namespace)
        event_id, passes_file = _queue(args.clients)
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_NAMESPACE": namespace,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(args.workers),
            "LOG_LEVEL": "warning",
            "LOG_FORMAT": "console",
            "DJANGO_SETTINGS_MODULE": "ticketflow.settings",
        }
        logs = RESULTS / "waiting_room_logs"
        logs.mkdir(parents=True, exist_ok=True)
        web = subprocess.Popen(
            web_command(Path(sys.executable).parent),
            cwd=ROOT, env=env, stdout=(logs / "web.log").open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = None
        try:
            _until_healthy(port)
            client = subprocess.Popen(
                [sys.executable, "-m", "bench", "waiting_room", "--client", "--port", str(port),
                 "--work", str(passes_file), "--clients", str(args.clients), "--wait", str(args.wait),
                 "--ramp", str(args.ramp)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=(logs / "clients.log").open("wb"), text=True,
            )  # fmt: skip
            assert client.stdout is not None
            ramped = _json_line(client.stdout)
            # The ramp's first requests are all taken in (on a busy machine that lags the ramp).
            time.sleep(args.settle)
            web_before, client_before, redis_before = (
                process_tree_cpu(web.pid), process_tree_cpu(client.pid), process_tree_cpu(redis_server.process.pid),
            )  # fmt: skip
            started = time.monotonic()
            time.sleep(args.window)
            elapsed = time.monotonic() - started
            web_cpu = process_tree_cpu(web.pid) - web_before
            client_cpu = process_tree_cpu(client.pid) - client_before
            redis_cpu = process_tree_cpu(redis_server.process.pid) - redis_before
            client.send_signal(signal.SIGTERM)
            stats = _json_line(client.stdout)
            client.wait(60)
        finally:
            stop_processes([p for p in (client, web) if p is not None])
    result = {
        "clients": args.clients,
        "connected": ramped["connected"],
        "ramp_seconds": ramped["seconds"],
        "wait_seconds": args.wait,
        "window_seconds": round(elapsed, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "web_workers": args.workers,
        # What uvicorn picks on its own (loop and http "auto"): the C parser and loop when installed.
        "uvicorn_http": "httptools" if importlib.util.find_spec("httptools") else "h11",
        "uvicorn_loop": "uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        "web_cpu_percent_of_one_core": round(100 * web_cpu / elapsed, 1),
        "client_cpu_percent_of_one_core": round(100 * client_cpu / elapsed, 1),
        "redis_cpu_percent_of_one_core": round(100 * redis_cpu / elapsed, 1),
        "answers": stats["answers"],
        "statuses": stats["statuses"],
        "queue_statuses": stats["queue_statuses"],
        "fast_path_share": round(stats["fast_path"] / max(1, stats["answers"]), 4),
        "server_errors_5xx": sum(n for code, n in stats["statuses"].items() if code.startswith("5")),
        "connection_errors": stats["errors"],
        "answer_seconds_p50": stats["p50"],
        "answer_seconds_p99": stats["p99"],
        "goal_met": 100 * web_cpu / elapsed <= GOAL_PERCENT_OF_A_CORE and stats["errors"] == 0
        and not any(code.startswith("5") for code in stats["statuses"]),
        "event_id": event_id,
    }  # fmt: skip
    _report(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "waiting_room.json").write_text(json.dumps(result, indent=2))
    return result


def _queue(count: int) -> tuple[str, Path]:
    """An event whose queue lets in one buyer a minute, ``count`` accounts in it, their passes."""
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from apps.accounts.models import User
    from apps.waitingroom import passes, services
    from ticketflow.messaging.schemas import EventCreated, SeatLayout

    event_id = str(uuid.uuid4())
    starts = timezone.now() + timedelta(days=7)
    services.queued_event_apply_snapshot(
        snapshot=EventCreated(
            event_id=event_id, name="Waiting room bench", venue_id="v", venue_name="Arena", timezone="UTC",
            starts_at=starts, ends_at=starts + timedelta(hours=3), status="on_sale", currency="EUR",
            prices={"standard": 5000}, max_seats_per_booking=4, hold_minutes=10, revision=1,
            layout=SeatLayout.model_validate(
                {"sections": [{"name": "Floor", "category": "standard", "rows": [{"label": "A", "seats": 10}]}]}
            ),
            queue_enabled=True, admit_per_minute=1, max_active_shoppers=1, shopping_window_minutes=10,
        )
    )  # fmt: skip
    unusable = make_password(None)
    users = [
        User(email=f"fan-{i}-{uuid.uuid4().hex[:6]}@example.com", name="Fan", password=unusable)
        for i in range(count)
    ]
    User.objects.bulk_create(users, batch_size=2000)
    store = services.get_store()
    now = time.time()
    for user in users:
        store.join(event_id, str(user.pk), now=now, prequeue=False, lot=0.0)
    work = RESULTS / "waiting_room_passes.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    work.write_text(
        json.dumps(
            {
                "event_id": event_id,
                "passes": [passes.issue(user_id=str(u.pk), event_id=event_id) for u in users],
            }
        )
    )
    return event_id, work


def _json_line(stream: Any) -> dict[str, Any]:
    """The next line of ``stream`` that is a JSON object (``python -m bench`` prints a title first)."""
    while line := stream.readline():
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit("the clients stopped early; see var/bench/waiting_room_logs/clients.log")


def _until_healthy(port: int) -> None:
    import urllib.request

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer,
        ):
            if answer.status == 200:
                return
        time.sleep(0.5)
    raise SystemExit("gunicorn did not become healthy; see var/bench/waiting_room_logs/web.log")


# --- the clients (a process of their own) ---------------------------------------------------------


async def _clients(args: argparse.Namespace) -> None:
    work = json.loads(Path(args.work).read_text())
    path = f"/api/events/{work['event_id']}/queue?wait={args.wait:g}"
    stats = {"statuses": Counter(), "queue": Counter(), "fast": 0, "errors": 0, "seconds": []}
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    connected = 0
    started = time.monotonic()

    async def buyer(queue_pass: str) -> None:
        nonlocal connected
        request = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            f"X-Queue-Pass: {queue_pass}\r\n\r\n"
        ).encode()
        first = True
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
            except OSError:
                stats["errors"] += 1
                await asyncio.sleep(1)
                continue
            if first:
                connected += 1
                first = False
            try:
                while not stop.is_set():
                    asked = time.monotonic()
                    writer.write(request)
                    status, headers, body = await _response(reader)
                    stats["statuses"][str(status)] += 1
                    stats["seconds"].append(time.monotonic() - asked)
                    if headers.get("x-queue-fast-path") == "1":
                        stats["fast"] += 1
                    answer = "?"
                    with contextlib.suppress(ValueError):
                        answer = json.loads(body).get("status", "?")
                    stats["queue"][answer] += 1
                    if answer == "admitted":
                        return  # off to the seat map, as the page does
                    if headers.get("connection") == "close":
                        break
            except (OSError, asyncio.IncompleteReadError, ValueError):
                if not stop.is_set():
                    stats["errors"] += 1
            finally:
                writer.close()

    tasks = []
    for i, queue_pass in enumerate(work["passes"][: args.clients]):
        tasks.append(asyncio.create_task(buyer(queue_pass)))
        await asyncio.sleep(max(0.0, started + (i + 1) / args.ramp - time.monotonic()))
    while connected < len(tasks) and time.monotonic() - started < 120:
        await asyncio.sleep(0.1)
    print(json.dumps({"connected": connected, "seconds": round(time.monotonic() - started, 1)}), flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    seconds = sorted(stats["seconds"])
    print(
        json.dumps(
            {
                "answers": len(seconds),
                "statuses": dict(stats["statuses"]),
                "queue_statuses": dict(stats["queue"]),
                "fast_path": stats["fast"],
                "errors": stats["errors"],
                "p50": round(percentile(seconds, 0.5), 3) if seconds else None,
                "p99": round(percentile(seconds, 0.99), 3) if seconds else None,
            }
        ),
        flush=True,
    )


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response: status, headers (lower-case), body (Content-Length or chunked)."""
    status_line = await reader.readline()
    if not status_line:
        raise asyncio.IncompleteReadError(b"", None)
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        chunks = []
        while size := int((await reader.readline()).strip() or b"0", 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        return status, headers, b"".join(chunks)
    return status, headers, await reader.readexactly(int(headers.get("content-length", "0")))


def _report(result: dict[str, object]) -> None:
    print(
        table(
            [
                ("queued clients (connected)", f"{result['clients']} ({result['connected']})"),
                ("long poll ?wait=", f"{result['wait_seconds']} s"),
                ("measured over", f"{result['window_seconds']} s, {result['web_workers']} gunicorn workers"),
                ("machine load (1 min) / CPUs", f"{result['load_average_1m']} / {result['cpus']}"),
                ("uvicorn", f"{result['uvicorn_http']} + {result['uvicorn_loop']}"),
                (
                    "web CPU",
                    f"{result['web_cpu_percent_of_one_core']} % of one core (goal <= {GOAL_PERCENT_OF_A_CORE:g} %)",
                ),
                ("answers (fast path share)", f"{result['answers']} ({result['fast_path_share']:.1%})"),
                ("HTTP statuses", result["statuses"]),
                ("5xx / connection errors", f"{result['server_errors_5xx']} / {result['connection_errors']}"),
                (
                    "answer time p50 / p99",
                    f"{result['answer_seconds_p50']} s / {result['answer_seconds_p99']} s",
                ),
                (
                    "client / Redis CPU",
                    f"{result['client_cpu_percent_of_one_core']} % / {result['redis_cpu_percent_of_one_core']} %",
                ),
                ("goal met", result["goal_met"]),
            ],
            ("", "waiting room"),
        )
    )
