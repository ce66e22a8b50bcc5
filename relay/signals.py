"""Turn SIGTERM and SIGINT into a stop request the loops notice between messages."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

logger = logging.getLogger("ticketflow.relay")


def stop_on_signals() -> threading.Event:
    """An event set by the first SIGTERM/SIGINT; a second SIGINT interrupts at once."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        logger.info("received %s, finishing the work in hand", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
