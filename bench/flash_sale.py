"""Flash-sale benchmark: clients racing for seats through gunicorn and the real services.

The full product runs as in production (gunicorn, relay, one consumer process per
context group set, a Celery worker) on PostgreSQL, Redis and Kafka.

1. Baseline: the raw database rate of the seat-hold transaction itself (lock the seats in
   id order, update them, write the outbox row) from bare psycopg threads, no Django.
2. Steady load: an open-loop stream of booking requests at a fixed rate; POST latency and
   POST-to-outcome latency (until CONFIRMED or FAILED).
3. Saturation: closed-loop clients as fast as they can; accepted bookings per second
   (holds granted through HTTP -> Kafka -> inventory) against the raw rate.
Every phase checks oversell: no seat may be in two confirmed bookings.

Run: ``source deploy/local/env.sh && python -m bench flash_sale``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from bench.support import RESULTS, ROOT, percentile, setup_django, table


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m bench flash_sale")
    parser.add_argument("--rate", type=int, default=100, help="steady booking requests per second")
    parser.add_argument("--seconds", type=int, default=20, help="steady-load duration")
    parser.add_argument("--clients", type=int, default=32, help="closed-loop clients at saturation")
    parser.add_argument("--saturation-seconds", type=int, default=15)
    parser.add_argument("--raw-holds", type=int, default=4000)
    args = parser.parse_args(argv)

    namespace = f"flash{uuid.uuid4().hex[:6]}-"
    setup_django(namespace)

    import requests
    from django.conf import settings
    from django.db.models import Count, Max
    from django.utils import timezone
    from rest_framework_simplejwt.tokens import RefreshToken

    from apps.accounts.models import User
    from apps.bookings.models import Booking, BookingStatus, BookingStep
    from apps.catalog.layout import parse_layout_text
    from apps.catalog.services import EventDetails, event_create, venue_create
    from apps.inventory.models import Seat, SeatStatus
    from ticketflow.messaging.schemas import iter_seats

    def new_event(blocks: int) -> tuple[str, list[str]]:
        layout = parse_layout_text(
            "\n".join(
                f"[Block {b}] standard\n" + "\n".join(f"R{r}: 1-30" for r in range(1, 21))
                for b in range(blocks)
            )
        )
        venue = venue_create(name=f"Arena {uuid.uuid4().hex[:6]}", layout=layout)
        starts = timezone.now() + timedelta(days=30)
        event = event_create(
            details=EventDetails(
                venue_id=str(venue.pk), name="Flash sale", starts_at=starts, ends_at=starts + timedelta(hours=3),
                currency="EUR", prices={"standard": 4900}, max_seats_per_booking=4, hold_minutes=10,
            ),
            publish=True,
        )  # fmt: skip
        return str(event.pk), [seat.seat_id for seat in iter_seats(str(event.pk), layout)]

    # --- 1. the raw database rate of the hold transaction -------------------------------------
    raw_event, raw_seats = new_event(blocks=max(1, args.raw_holds * 2 // 600 + 1))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "KAFKA_NAMESPACE": namespace,
        "CELERY_QUEUE": f"{namespace}tasks",
        "PORT": str(port),
        "WEB_CONCURRENCY": "3",
        "WEB_THREADS": "8",
        "LOG_LEVEL": "warning",
        "LOG_FORMAT": "console",
        "DJANGO_SETTINGS_MODULE": "ticketflow.settings",
    }
    log_dir = RESULTS / "flash_sale_logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    binaries = Path(sys.executable).parent
    commands = {
        "web": [str(binaries / "gunicorn"), "ticketflow.wsgi", "--config", "deploy/gunicorn.conf.py"],
        "relay": [sys.executable, "manage.py", "relay"],
        "consumers-inventory": [sys.executable, "manage.py", "consume", "inventory", "--concurrency", "3"],
        "consumers-bookings": [sys.executable, "manage.py", "consume", "bookings", "--concurrency", "3"],
        "consumers-rest": [
            sys.executable,
            "manage.py",
            "consume",
            "payments",
            "notifications",
            "--concurrency",
            "2",
        ],
        "worker": [
            str(binaries / "celery"),
            "-A",
            "ticketflow",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            "4",
        ],
    }
    machine_at_start = machine_cpu_seconds()
    processes = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=(log_dir / f"{name}.log").open("wb"), stderr=subprocess.STDOUT
        )
        for name, command in commands.items()
    ]
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        else:
            raise SystemExit("gunicorn did not become healthy; see var/bench/flash_sale_logs")
        while Seat.objects.filter(event_id=raw_event).count() < len(raw_seats):
            time.sleep(0.2)
        raw_rate = raw_hold_rate(settings.DATABASES["default"], raw_event, raw_seats[: args.raw_holds * 2])

        users = [
            User.objects.create_user(
                email=f"fan-{uuid.uuid4().hex[:8]}@example.com", password=None, name="Fan"
            )
            for _ in range(200)
        ]
        tokens = [str(RefreshToken.for_user(user).access_token) for user in users]

        def book(session: requests.Session, event_id: str, seats: list[str], rng: random.Random) -> dict:
            chosen = rng.sample(seats, rng.choice((1, 2)))
            started = time.time()
            response = session.post(
                f"{base}/api/bookings",
                json={"event_id": event_id, "seat_ids": chosen, "payment_method": "pm_card_visa"},
                headers={"Authorization": f"Bearer {rng.choice(tokens)}"},
                timeout=30,
            )
            return {
                "status": response.status_code,
                "started": started,
                "latency_ms": (time.time() - started) * 1000,
                "id": response.json().get("id") if response.status_code == 202 else None,
            }

        def wait_terminal(ids: list[str], timeout: float = 180) -> None:
            terminal = (BookingStatus.CONFIRMED, BookingStatus.FAILED)
            deadline = time.monotonic() + timeout
            while Booking.objects.filter(pk__in=ids).exclude(status__in=terminal).exists():
                if time.monotonic() > deadline:
                    raise SystemExit("bookings did not all finish; see var/bench/flash_sale_logs")
                time.sleep(0.25)

        def oversold(event_id: str, ids: list[str]) -> tuple[int, int]:
            """(seats in two confirmed bookings, seats whose inventory state disagrees once settled)."""
            sold = [
                s["seat_id"]
                for b in Booking.objects.filter(pk__in=ids, status=BookingStatus.CONFIRMED)
                for s in b.seats
            ]
            deadline = time.monotonic() + 60
            while Seat.objects.filter(event_id=event_id, status=SeatStatus.LOCKED).exists():
                if time.monotonic() > deadline:
                    break
                time.sleep(0.25)
            reserved = {
                str(s)
                for s in Seat.objects.filter(event_id=event_id, status=SeatStatus.RESERVED).values_list(
                    "id", flat=True
                )
            }
            return len(sold) - len(set(sold)), len(set(sold) ^ reserved)

        # --- 2. steady load ----------------------------------------------------------------------
        steady_event, steady_seats = new_event(blocks=20)  # 12,000 seats: demand, not sell-out
        while Seat.objects.filter(event_id=steady_event).count() < len(steady_seats):
            time.sleep(0.2)
        sessions = threading.local()

        def steady_one(index: int) -> dict:
            if not hasattr(sessions, "http"):
                sessions.http = requests.Session()
            return book(sessions.http, steady_event, steady_seats, random.Random(index))

        total = args.rate * args.seconds
        results: list = []
        with ThreadPoolExecutor(max_workers=64) as pool:
            begun = time.perf_counter()
            for index in range(total):
                results.append(pool.submit(steady_one, index))
                pause = begun + (index + 1) / args.rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            steady = [future.result() for future in results]
        offered_rate = total / (time.perf_counter() - begun)
        steady_ids = [r["id"] for r in steady if r["id"]]
        wait_terminal(steady_ids)
        finished = dict(Booking.objects.filter(pk__in=steady_ids).values_list("id", "finished_at"))
        to_outcome = [
            (finished[uuid.UUID(r["id"])].timestamp() - r["started"]) * 1000 for r in steady if r["id"]
        ]
        post_latency = [r["latency_ms"] for r in steady]

        # --- 3. saturation -----------------------------------------------------------------------
        hot_event, hot_seats = new_event(blocks=10)
        while Seat.objects.filter(event_id=hot_event).count() < len(hot_seats):
            time.sleep(0.2)
        stop_at = time.perf_counter() + args.saturation_seconds
        burst: list[dict] = []
        lock = threading.Lock()

        def client(number: int) -> None:
            http, rng = requests.Session(), random.Random(number)
            while time.perf_counter() < stop_at:
                outcome = book(http, hot_event, hot_seats, rng)
                with lock:
                    burst.append(outcome)

        started_wall = time.time()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        burst_ids = [r["id"] for r in burst if r["id"]]
        wait_terminal(burst_ids)
        holds = BookingStep.objects.filter(booking_id__in=burst_ids, step="seats.locked").aggregate(
            granted=Count("id"), last=Max("at")
        )
        accepted_rate = holds["granted"] / (holds["last"].timestamp() - started_wall)
        post_rate = len(burst_ids) / args.saturation_seconds
        checks = [oversold(steady_event, steady_ids), oversold(hot_event, burst_ids)]
        oversell, mismatches = sum(c[0] for c in checks), sum(c[1] for c in checks)
    finally:
        for process in processes:
            process.terminate()
        cpu = {}
        for name, process in zip(commands, processes, strict=True):
            # wait4 reports the CPU of the process and of every child it reaped (gunicorn's workers).
            _, _, usage = os.wait4(process.pid, 0)
            cpu[name] = round(usage.ru_utime + usage.ru_stime, 1)
        machine_busy = machine_cpu_seconds() - machine_at_start

    result = {
        "raw_hold_transactions_per_s": round(raw_rate),
        "steady_offered_per_s": round(offered_rate, 1),
        "steady_requests": len(steady),
        "steady_non_202": sum(1 for r in steady if r["status"] != 202),
        "post_ms_p50": round(percentile(post_latency, 0.5), 1),
        "post_ms_p99": round(percentile(post_latency, 0.99), 1),
        "post_to_outcome_ms_p50": round(percentile(to_outcome, 0.5), 1),
        "post_to_outcome_ms_p99": round(percentile(to_outcome, 0.99), 1),
        "saturation_clients": args.clients,
        "saturation_posts_per_s": round(post_rate, 1),
        "saturation_accepted_bookings_per_s": round(accepted_rate, 1),
        "accepted_ratio_to_raw": round(accepted_rate / raw_rate, 3),
        "saturation_post_ms_p99": round(percentile([r["latency_ms"] for r in burst], 0.99), 1),
        "oversell": oversell,
        "inventory_mismatches_after_settling": mismatches,
        "bookings_processed": len(steady_ids) + len(burst_ids),
        "cpu_seconds_by_process": cpu,
        "app_cpu_ms_per_booking": round(sum(cpu.values()) * 1000 / (len(steady_ids) + len(burst_ids)), 1),
        "machine_cpu_ms_per_booking": round(machine_busy * 1000 / (len(steady_ids) + len(burst_ids)), 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "flash_sale.json").write_text(json.dumps(result, indent=2))
    print(
        table(
            [
                ["raw hold transaction (psycopg, baseline)", f"{raw_rate:,.0f} holds/s", "1.00"],
                [
                    f"accepted bookings at saturation ({args.clients} clients)",
                    f"{accepted_rate:,.0f} bookings/s ({post_rate:,.0f} POST/s)",
                    f"{accepted_rate / raw_rate:.2f}",
                ],
                [
                    f"POST latency at {args.rate}/s",
                    f"p50 {result['post_ms_p50']} ms, p99 {result['post_ms_p99']} ms",
                    "",
                ],
                [
                    f"POST to outcome at {args.rate}/s",
                    f"p50 {result['post_to_outcome_ms_p50']} ms, p99 {result['post_to_outcome_ms_p99']} ms",
                    "",
                ],
                ["oversold seats", str(oversell), ""],
            ],
            ["measurement", "result", "ratio to raw"],
        )
    )
    return result


def machine_cpu_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


def raw_hold_rate(database: dict, event_id: str, seats: list[str], threads: int = 16) -> float:
    """Holds per second for the bare hold transaction, two seats each, from ``threads`` connections."""
    import psycopg

    pairs = [seats[i : i + 2] for i in range(0, len(seats) - 1, 2)]
    work = iter(pairs)
    lock = threading.Lock()
    done = [0]

    def worker() -> None:
        with psycopg.connect(
            host=database["HOST"], port=database["PORT"], user=database["USER"],
            password=database["PASSWORD"], dbname=database["NAME"],
        ) as connection:  # fmt: skip
            while True:
                with lock:
                    pair = next(work, None)
                if pair is None:
                    return
                booking, hold = str(uuid.uuid4()), str(uuid.uuid4())
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT id, status FROM inventory_seat WHERE event_id = %s AND id = ANY(%s::uuid[])"
                        " ORDER BY id FOR UPDATE",
                        [event_id, pair],
                    )
                    if all(status == "AVAILABLE" for _, status in cursor.fetchall()):
                        cursor.execute(
                            "UPDATE inventory_seat SET status = 'LOCKED', booking_id = %s, hold_id = %s,"
                            " hold_expires_at = now() + interval '10 minutes', version = version + 1,"
                            " updated_at = now() WHERE id = ANY(%s::uuid[])",
                            [booking, hold, pair],
                        )
                        cursor.execute(
                            "INSERT INTO ticketflow_outbox (id, topic, aggregate_id, body, position, created_at,"
                            " pending, attempts, last_error, claim_token) VALUES (%s, 'bench.raw.hold', %s, %s,"
                            " %s, now(), false, 0, '', '')",
                            [
                                str(uuid.uuid4()),
                                booking,
                                json.dumps({"hold": hold, "seats": pair}),
                                time.time_ns() // 1000,
                            ],
                        )
                with lock:
                    done[0] += 1

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return done[0] / (time.perf_counter() - started)


if __name__ == "__main__":
    main()
