"""TicketFlow against pretix, side by side: the same buyers, the same client shape, the same machine.

``python -m bench versus [--buyers 1000] [--concurrency 50] [--seats 100] [--runs 3]
[--sustained-runs 1]`` (or ``make bench-pretix BENCH_ARGS="..."``), with the real services up
and ``source deploy/local/env.sh``.

Both systems run at once on this machine, on the same PostgreSQL and Redis: TicketFlow as
``bench/flash_sale.py`` runs it (``FlashSale.start``: gunicorn from deploy/gunicorn.conf.py,
the relay, the consumers, Celery, on Kafka), pretix as its docs say (``bench/pretix.py``).

The contended sale: ``--buyers`` buyers, ``--concurrency`` at a time, each wants one of
``--seats`` seats; seat i is wanted by exactly buyers/seats of them, in a shuffled order (the
same order for both systems in the same run number). Every run gets a fresh event, and the
runs alternate pretix, TicketFlow, pretix, TicketFlow, ... so that whatever else this machine
is doing hits both alike. Then the sustained, uncontended phase: as many buyers, every one
wanting a different seat of a fresh event.

A buyer is one closed-loop client thread's turn, with that thread's own HTTP connection pool
(a ``requests.Session``), and behaves as each system's docs recommend:

pretix (doc/api/resources/orders.rst, "Order creation"): ``POST
/api/v1/organizers/{o}/events/{e}/orders/`` with one position, ``payment_provider``
``banktransfer`` (the order is created pending payment: seats held, not paid), an
``X-Idempotency-Key``. ``201`` is a win, ``400`` "not enough quota" a loss; ``409`` (lock not
acquired) and ``429``/``5xx`` are retried with the same key after ``Retry-After`` or 0.25 s.

TicketFlow (its recommended client, see docs/api.md): ``POST /api/bookings`` with one seat, ``payment_method``
``pm_card_visa`` and an ``Idempotency-Key``. ``409`` with ``error.code`` ``seats_unavailable``
is a loss, final. ``202`` returns the booking (``id``, ``status``); the client then long-polls
``GET /api/bookings/{id}?wait=25&status=<last status seen>`` until the status is terminal
(CONFIRMED, FAILED, EXPIRED, CANCELLED). A server that does not long-poll yet answers at once;
when an answer carries the status the client already had, it sleeps ``Retry-After`` seconds
(0.25 s without one) before asking again. FAILED is a loss. The seats are *held* once the
client sees SEATS_LOCKED (or CONFIRMED): that is what pretix's pending order is. CONFIRMED
(paid, ticket issued) is stricter, and both are reported. ``429``/``5xx`` on the POST are
retried like pretix's.

Measured per run: all buyers answered (first request to last final answer), accepted orders
per minute while selling (first request to last acceptance), accepted p99 and losers' answer
p99 (from a buyer's first request to its final answer), oversold (pretix: pending or paid
positions of one product beyond the first; TicketFlow: seats in two CONFIRMED bookings), and
CPU, per process tree and for the whole machine, from the run's start until the machine has
settled (so a confirmation's email counts), per accepted order. Medians of the runs are
printed with the ratio TicketFlow / pretix; everything is written to var/bench/versus.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from bench.flash_sale import FlashSale, machine_cpu_seconds, sold_seats
from bench.pretix import Pretix, PretixSale
from bench.support import RESULTS, percentile, setup_django, table

TERMINAL = frozenset({"CONFIRMED", "FAILED", "EXPIRED", "CANCELLED"})
HELD = frozenset({"SEATS_LOCKED", "CONFIRMED"})
RETRIED = frozenset({408, 429, 500, 502, 503, 504})
BUYER_DEADLINE_S = 180  # one buyer's whole attempt, retries and polls included
DEFAULT_PAUSE_S = 0.25


@dataclass
class Outcome:
    """What one buyer saw. Times are ``time.time()``; ``held``/``confirmed`` are when the buyer learnt it."""

    seat: int
    started: float
    answered: float
    result: str  # "won", "lost" or "error"
    final: str  # the final answer: "201", "400", "409", "CONFIRMED", "FAILED", "timeout", ...
    held: float | None = None
    confirmed: float | None = None
    requests: int = 0


def pause(response: Any) -> float:
    """Seconds to wait before asking again: the server's ``Retry-After``, else a quarter second."""
    try:
        return min(30.0, max(0.0, float(response.headers.get("Retry-After", DEFAULT_PAUSE_S))))
    except (TypeError, ValueError):
        return DEFAULT_PAUSE_S


# --- the two clients --------------------------------------------------------------------------


class PretixBuyer:
    """A buyer creating an order, pending payment, through pretix's REST API."""

    def __init__(self, pretix: Pretix) -> None:
        self.pretix = pretix

    def buy(self, http: Any, sale: PretixSale, seat: int, buyer: int) -> Outcome:
        import requests

        body = {
            "email": f"fan-{buyer}@example.com",
            "locale": "en",
            "sales_channel": "web",
            "payment_provider": "banktransfer",
            "positions": [{"item": sale.items[seat]}],
        }
        headers = {"Authorization": f"Token {self.pretix.token}", "X-Idempotency-Key": uuid.uuid4().hex}
        started = time.time()
        deadline = time.monotonic() + BUYER_DEADLINE_S
        sent = 0
        while time.monotonic() < deadline:
            sent += 1
            try:
                response = http.post(self.pretix.orders_url(sale), json=body, headers=headers, timeout=60)
            except requests.RequestException:
                time.sleep(DEFAULT_PAUSE_S)
                continue
            now = time.time()
            if response.status_code == 201:
                return Outcome(seat, started, now, "won", "201", held=now, requests=sent)
            if response.status_code == 400 and "quota" in response.text:
                return Outcome(seat, started, now, "lost", "400", requests=sent)
            if response.status_code == 409 or response.status_code in RETRIED:
                time.sleep(pause(response))
                continue
            return Outcome(
                seat, started, now, "error", f"{response.status_code} {response.text[:200]}", requests=sent
            )
        return Outcome(seat, started, time.time(), "error", "timeout", requests=sent)


class TicketFlowBuyer:
    """A buyer booking through TicketFlow's API and following the booking to its outcome."""

    def __init__(self, flash: FlashSale) -> None:
        self.flash = flash
        self.booking_ids: list[str] = []
        self.lock = threading.Lock()

    def buy(self, http: Any, sale: tuple[str, list[str]], seat: int, buyer: int) -> Outcome:
        import requests

        event_id, seats = sale
        tokens = self.flash.tokens
        headers = {
            "Authorization": f"Bearer {tokens[buyer % len(tokens)]}",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        body = {"event_id": event_id, "seat_ids": [seats[seat]], "payment_method": "pm_card_visa"}
        started = time.time()
        deadline = time.monotonic() + BUYER_DEADLINE_S
        sent = 0
        booking: dict[str, Any] | None = None
        while booking is None:
            if time.monotonic() > deadline:
                return Outcome(seat, started, time.time(), "error", "timeout", requests=sent)
            sent += 1
            try:
                response = http.post(
                    f"{self.flash.base}/api/bookings", json=body, headers=headers, timeout=60
                )
            except requests.RequestException:
                time.sleep(DEFAULT_PAUSE_S)
                continue
            if response.status_code == 202:
                booking = response.json()
            elif response.status_code == 409 and _error_code(response) == "seats_unavailable":
                return Outcome(seat, started, time.time(), "lost", "409", requests=sent)
            elif response.status_code in RETRIED:
                time.sleep(pause(response))
            else:
                return Outcome(
                    seat,
                    started,
                    time.time(),
                    "error",
                    f"{response.status_code} {response.text[:200]}",
                    requests=sent,
                )
        with self.lock:
            self.booking_ids.append(booking["id"])
        status, held, url = booking["status"], None, f"{self.flash.base}/api/bookings/{booking['id']}"
        while True:
            now = time.time()
            if held is None and status in HELD:
                held = now
            if status in TERMINAL:
                won = status == "CONFIRMED"
                return Outcome(
                    seat, started, now, "won" if won else "lost" if status == "FAILED" else "error", status,
                    held=held, confirmed=now if won else None, requests=sent,
                )  # fmt: skip
            if time.monotonic() > deadline:
                return Outcome(seat, started, now, "error", f"timeout in {status}", held=held, requests=sent)
            sent += 1
            try:
                response = http.get(
                    url, params={"wait": 25, "status": status}, headers={"Authorization": headers["Authorization"]},
                    timeout=40,
                )  # fmt: skip
            except requests.RequestException:
                time.sleep(DEFAULT_PAUSE_S)
                continue
            if response.status_code != 200:
                time.sleep(pause(response))
                continue
            latest = response.json()["status"]
            if latest == status:
                # No change: a long poll that timed out, or a server that does not long-poll yet.
                time.sleep(pause(response))
            status = latest


def _error_code(response: Any) -> str | None:
    try:
        return response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


# --- one sale, the same for both ---------------------------------------------------------------


def sell(buy: Callable[[Any, int, int], Outcome], seats_wanted: list[int], concurrency: int) -> list[Outcome]:
    """Every buyer once, ``concurrency`` client threads at a time, each with its own connection pool."""
    import requests

    queue = iter(enumerate(seats_wanted))
    lock = threading.Lock()
    outcomes: list[Outcome] = []

    def client() -> None:
        with requests.Session() as http:
            while True:
                with lock:
                    turn = next(queue, None)
                if turn is None:
                    return
                buyer, seat = turn
                outcome = buy(http, seat, buyer)
                with lock:
                    outcomes.append(outcome)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(BUYER_DEADLINE_S * (len(seats_wanted) // concurrency + 2))
    return outcomes


def settle(
    snapshot: Callable[[], dict[str, float]], idle_cores: float = 0.1, longest_s: float = 30.0
) -> None:
    """Wait (at most ``longest_s``) until the side's own processes are nearly idle: its after-work is done.

    Watching the side's processes rather than the whole machine keeps other work on this machine
    (other engineers' tests) from stretching every run to the limit.
    """
    deadline = time.monotonic() + longest_s
    time.sleep(0.5)
    while time.monotonic() < deadline:
        before = sum(value for key, value in snapshot().items() if key != "machine")
        time.sleep(1)
        if sum(value for key, value in snapshot().items() if key != "machine") - before < idle_cores:
            return


def summarise(outcomes: list[Outcome], key: str = "answered") -> dict[str, Any]:
    """The run's measurements; ``key`` is when a win counts (``held``, ``confirmed`` or ``answered``)."""
    t0 = min(o.started for o in outcomes)
    won = [o for o in outcomes if o.result == "won"]
    lost = [o for o in outcomes if o.result == "lost"]
    wins = [(o, getattr(o, key)) for o in won if getattr(o, key) is not None]
    win_times = [at for _, at in wins]
    to_win = [at - o.started for o, at in wins]
    selling_s = max(win_times, default=t0) - t0
    return {
        "buyers": len(outcomes),
        "won": len(won),
        "lost": len(lost),
        "errors": len(outcomes) - len(won) - len(lost),
        "error_samples": sorted({o.final for o in outcomes if o.result == "error"})[:5],
        "all_answered_s": round(max(o.answered for o in outcomes) - t0, 2),
        "selling_s": round(selling_s, 2),
        "accepted_per_min": round(len(win_times) * 60 / selling_s, 1) if selling_s > 0 else None,
        "accepted_per_s": round(len(win_times) / selling_s, 2) if selling_s > 0 else None,
        "accepted_p50_ms": _ms(percentile(to_win, 0.5)),
        "accepted_p99_ms": _ms(percentile(to_win, 0.99)),
        "losers_p50_ms": _ms(percentile([o.answered - o.started for o in lost], 0.5)),
        "losers_p99_ms": _ms(percentile([o.answered - o.started for o in lost], 0.99)),
        "requests": sum(o.requests for o in outcomes),
    }


def _ms(seconds: float) -> float | None:
    return None if seconds != seconds else round(seconds * 1000, 1)  # NaN: nothing to measure


class Versus:
    """Both systems running, and the runs taken against them in turn."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.namespace = f"versus{uuid.uuid4().hex[:6]}-"
        self.pretix = Pretix()
        self.flash: FlashSale | None = None
        self.pretix_buyer = PretixBuyer(self.pretix)
        self.ticketflow_buyer: TicketFlowBuyer | None = None
        self.runs: list[dict[str, Any]] = []

    def pretix_events(self) -> dict[str, int]:
        a = self.args
        events = {"warmup": a.concurrency * 2}
        events |= {f"contended{n}": a.seats for n in range(1, a.runs + 1)}
        events |= {f"sustained{n}": a.buyers for n in range(1, a.sustained_runs + 1)}
        return events

    def start(self) -> None:
        setup_django(self.namespace)  # first: it exits at once when the real services are not set up
        print("starting pretix ...", flush=True)
        self.pretix.start(self.pretix_events())
        print(f"pretix on {self.pretix.base}; starting TicketFlow ...", flush=True)
        self.flash = FlashSale(self.namespace)
        self.flash.start(buyers=self.args.buyers)
        self.ticketflow_buyer = TicketFlowBuyer(self.flash)
        print(f"TicketFlow on {self.flash.base}", flush=True)

    def stop(self) -> None:
        self.pretix.stop()
        if self.flash is not None:
            self.flash.stop()
            self.flash.delete_topics()

    def run(self, side: str, phase: str, number: int, seats_wanted: list[int], measured: bool = True) -> None:
        """One sale on a fresh event: the buyers, then settling, CPU and the oversell check."""
        assert self.flash is not None
        assert self.ticketflow_buyer is not None
        seats = max(seats_wanted) + 1
        if side == "pretix":
            sale: Any = self.pretix.sales["warmup" if not measured else f"{phase}{number}"]
            buy = self.pretix_buyer.buy
            snapshot = self.pretix.cpu_snapshot
        else:
            sale = self.flash.new_event(blocks=(seats + 599) // 600)
            buy = self.ticketflow_buyer.buy
            snapshot = self.flash.cpu_snapshot
            self.ticketflow_buyer.booking_ids = []
        load = os.getloadavg()[0]  # other work on this machine skews a run; the record says how much
        before, machine_before = snapshot(), machine_cpu_seconds()
        before.pop("machine", None)
        started = time.time()
        outcomes = sell(
            lambda http, seat, buyer: buy(http, sale, seat, buyer), seats_wanted, self.args.concurrency
        )
        settle(snapshot)
        after, machine_used = snapshot(), machine_cpu_seconds() - machine_before
        after.pop("machine", None)
        if side == "ticketflow":
            # Every booking made, warm-up too, takes part in the final inventory-agrees check.
            self.flash.booking_ids += self.ticketflow_buyer.booking_ids
        if not measured:
            return
        cpu = {name: round(after[name] - before[name], 2) for name in before}
        if side == "pretix":
            checked = self.pretix.oversold(sale)
            summaries = {"answered": summarise(outcomes)}
        else:
            sold = sold_seats(self.ticketflow_buyer.booking_ids)
            checked = {"bookings_confirmed": len(sold), "oversold": len(sold) - len(set(sold))}
            summaries = {"held": summarise(outcomes, "held"), "confirmed": summarise(outcomes, "confirmed")}
        won = max(1, next(iter(summaries.values()))["won"])
        record = {
            "side": side,
            "phase": phase,
            "run": number,
            "started_at": started,
            "load_average_1m_at_start": round(load, 1),
            **{f"to_{key}": value for key, value in summaries.items()},
            **checked,
            "cpu_seconds_by_process": cpu,
            "machine_cpu_seconds": round(machine_used, 2),
            "app_cpu_ms_per_accepted": round(sum(cpu.values()) * 1000 / won, 1),
            "machine_cpu_ms_per_accepted": round(machine_used * 1000 / won, 1),
            "app_cpu_ms_per_buyer": round(sum(cpu.values()) * 1000 / len(outcomes), 1),
            "machine_cpu_ms_per_buyer": round(machine_used * 1000 / len(outcomes), 1),
            "outcomes": [asdict(o) for o in outcomes] if self.args.keep_outcomes else None,
        }
        self.runs.append(record)
        main = record.get("to_answered") or record["to_confirmed"]
        print(
            f"  {side:10} {phase} {number}: {main['won']} won, {main['lost']} lost, {main['errors']} errors;"
            f" all answered in {main['all_answered_s']} s; {main['accepted_per_min']} accepted/min;"
            f" oversold {checked['oversold']}; load average {load:.1f}",
            flush=True,
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench versus")
    parser.add_argument("--buyers", type=int, default=1000, help="buyers per sale (N)")
    parser.add_argument("--concurrency", type=int, default=50, help="buyers at a time (C)")
    parser.add_argument(
        "--seats", type=int, default=100, help="seats of a contended sale (S); N/S buyers each"
    )
    parser.add_argument("--runs", type=int, default=3, help="contended sales per system, alternating")
    parser.add_argument(
        "--sustained-runs", type=int, default=1, help="uncontended sales per system (0: none)"
    )
    parser.add_argument(
        "--seed", type=int, default=20261202, help="shuffles the buyers' order, per run number"
    )
    parser.add_argument(
        "--keep-outcomes", action="store_true", help="write every buyer's outcome to the JSON"
    )
    args = parser.parse_args(argv)
    if args.buyers % args.seats:
        parser.error("--buyers must be a multiple of --seats: every seat is wanted by as many buyers")

    versus = Versus(args)
    try:
        versus.start()
        warmup = list(range(args.concurrency * 2))
        for side in ("pretix", "ticketflow"):
            versus.run(side, "warmup", 0, warmup, measured=False)
        for number in range(1, args.runs + 1):
            wanted = [seat for seat in range(args.seats) for _ in range(args.buyers // args.seats)]
            random.Random(args.seed + number).shuffle(wanted)
            for side in ("pretix", "ticketflow"):
                versus.run(side, "contended", number, wanted)
        for number in range(1, args.sustained_runs + 1):
            wanted = list(range(args.buyers))
            random.Random(args.seed - number).shuffle(wanted)
            for side in ("pretix", "ticketflow"):
                versus.run(side, "sustained", number, wanted)
        checks = versus.flash.checks() if versus.flash else {}
    finally:
        versus.stop()

    result = report(args, versus.runs, checks)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "versus.json").write_text(json.dumps(result, indent=2))
    return result


def report(args: argparse.Namespace, runs: list[dict[str, Any]], checks: dict[str, int]) -> dict[str, Any]:
    """Medians per system and phase, their ratios, printed as a table; the whole record for the JSON."""

    def median(side: str, phase: str, path: str) -> float | None:
        values = []
        for run in runs:
            if run["side"] != side or run["phase"] != phase:
                continue
            value: Any = run
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                values.append(value)
        return round(statistics.median(values), 2) if values else None

    rows = [
        # label, pretix path, TicketFlow paths (held, confirmed), better when TicketFlow/pretix is
        ("contended", "all buyers answered (s)", "to_answered.all_answered_s", "all_answered_s", "lower"),
        (
            "contended",
            "accepted orders/min while selling",
            "to_answered.accepted_per_min",
            "accepted_per_min",
            "higher",
        ),
        ("contended", "accepted p99 (ms)", "to_answered.accepted_p99_ms", "accepted_p99_ms", "lower"),
        ("contended", "accepted p50 (ms)", "to_answered.accepted_p50_ms", "accepted_p50_ms", "lower"),
        ("contended", "losers' answer p99 (ms)", "to_answered.losers_p99_ms", "losers_p99_ms", "lower"),
        ("contended", "oversold", "oversold", None, "lower"),
        ("contended", "machine CPU ms per buyer", "machine_cpu_ms_per_buyer", None, "lower"),
        ("sustained", "orders/s (uncontended)", "to_answered.accepted_per_s", "accepted_per_s", "higher"),
        ("sustained", "accepted p99 (ms)", "to_answered.accepted_p99_ms", "accepted_p99_ms", "lower"),
        ("sustained", "app CPU ms per order", "app_cpu_ms_per_accepted", None, "lower"),
        ("sustained", "machine CPU ms per order", "machine_cpu_ms_per_accepted", None, "lower"),
        ("sustained", "oversold", "oversold", None, "lower"),
    ]
    lines, medians = [], []
    for phase, label, pretix_path, tf_key, better in rows:
        pretix = median("pretix", phase, pretix_path)
        if tf_key is None:
            held = confirmed = median("ticketflow", phase, pretix_path)
        else:
            held = median("ticketflow", phase, f"to_held.{tf_key}")
            confirmed = median("ticketflow", phase, f"to_confirmed.{tf_key}")
        ratio = (
            f"{held / pretix:.2f} / {confirmed / pretix:.2f}"
            if pretix and held is not None and confirmed is not None
            else ""
        )
        lines.append([f"{phase}: {label}", _cell(pretix), _cell(held), _cell(confirmed), ratio, better])
        medians.append(
            {"phase": phase, "measure": label, "pretix": pretix, "ticketflow_held": held,
             "ticketflow_confirmed": confirmed, "ratio_better_when": better}
        )  # fmt: skip
    print()
    print(f"medians of {args.runs} contended and {args.sustained_runs} sustained runs per system;")
    print(f"{args.buyers} buyers, {args.concurrency} at a time, {args.seats} contended seats\n")
    header = ["measure", "pretix (pending order)", "TicketFlow to held", "TicketFlow to CONFIRMED"]
    print(table(lines, [*header, "ratio TF/pretix (held / CONFIRMED)", "better when the ratio is"]))
    print(f"\nTicketFlow, all runs: oversold {checks.get('oversell')}, inventory mismatches after settling"
          f" {checks.get('inventory_mismatches_after_settling')}")  # fmt: skip
    return {"arguments": vars(args), "medians": medians, "ticketflow_checks": checks, "runs": runs}


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"


if __name__ == "__main__":
    main()
