"""`manage.py dispatch_messages`: the long-running process that sends the outbox.

Like healthchecks' `sendalerts`: a loop that claims due messages, sends them and records
each outcome, reconciling what a crashed dispatcher left unclear. Run as many side by
side as wanted; SIGTERM or Ctrl-C stops it after the message in hand.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from chairtime.messaging.dispatcher import DispatchConfig, Dispatcher

logger = logging.getLogger("chairtime.messaging.dispatcher")


class Command(BaseCommand):
    help = "Send the outbox: claim due messages, send, record, reconcile. Runs until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one pass, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        config = DispatchConfig.from_settings()
        dispatcher = Dispatcher(config=config)
        poll = _poll_seconds()
        logger.info("dispatcher %s started", dispatcher.worker)
        self.stdout.write(f"dispatcher {dispatcher.worker} started")
        while not self.stopping:
            close_old_connections()
            try:
                taken = dispatcher.run_once()
            except Exception:  # the database went away, a bug: log, wait, carry on
                logger.exception("dispatch pass failed")
                taken = 0
            if options["once"]:
                break
            if taken == 0:
                self._sleep(poll)
        logger.info("dispatcher %s stopped", dispatcher.worker)

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, seconds))


def _poll_seconds() -> float:
    from django.conf import settings

    return float(settings.MESSAGING_DISPATCH["POLL_SECONDS"])
