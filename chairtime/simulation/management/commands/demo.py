"""`manage.py demo`: the first command of the README's quick start.

Migrates the embedded database, loads the simulated chain the first time, prints one
login per role, then serves the app on 127.0.0.1 with the background worker running,
until Ctrl-C stops both.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
from datetime import date
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from chairtime.simulation.demo import DEMO_PASSWORD, create_demo_logins
from chairtime.simulation.generator import SIZES, simulate
from chairtime.tenancy.models import Organization


class Command(BaseCommand):
    help = "Set up the demo (database, simulated clinic chain, logins) and serve it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="set up, then stop")

    def handle(self, *args: Any, **options: Any) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", verbosity=0)
        organization = self._organization()
        logins = create_demo_logins(organization)
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password: {DEMO_PASSWORD})"))
        for login in logins:
            self.stdout.write(f"  {login.username:<16} {login.role.label:<20} {login.where}")
        if options["no_serve"]:
            return
        self._serve(options["port"])

    def _organization(self) -> Organization:
        config = SIZES["demo"]
        existing = Organization.objects.filter(slug=config.slug).first()
        if existing is not None:
            return existing
        self.stdout.write("Simulating the demo clinic chain…")
        today: date = timezone.localdate()
        return simulate(dataclasses.replace(config, as_of=today), progress=True).organization

    def _serve(self, port: int) -> None:
        python = sys.executable
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Fixed argument lists: our own interpreter and modules, no user input.
        # The worker gets a process group of its own: a terminal's Ctrl-C goes to the demo
        # and the server only, and the worker is stopped below the way django-q2 expects
        # (SIGTERM to its main process; a signal to its whole group can hang it).
        worker = subprocess.Popen(  # noqa: S603
            [python, "manage.py", "qcluster"], env=environment, start_new_session=True
        )
        # The outbox's dispatcher (console transport unless configured: sends nothing out).
        dispatcher = subprocess.Popen(  # noqa: S603
            [python, "manage.py", "dispatch_messages"], env=environment, start_new_session=True
        )
        server = subprocess.Popen(  # noqa: S603
            [
                python, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-",
            ],
            env=environment,
        )  # fmt: skip
        self.stdout.write(
            self.style.SUCCESS(f"\nChairtime: http://127.0.0.1:{port}/  (Ctrl-C stops)")
        )
        # Stopped by a supervisor (SIGTERM) rather than Ctrl-C: still stop both children.
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            _stop(server, worker, dispatcher)


def _stop(
    server: subprocess.Popen[bytes],
    worker: subprocess.Popen[bytes],
    dispatcher: subprocess.Popen[bytes],
) -> None:
    for process in (server, worker, dispatcher):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    try:
        dispatcher.wait(timeout=15)  # it finishes the message in hand, then exits
    except subprocess.TimeoutExpired:
        dispatcher.kill()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
    try:
        worker.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, signal.SIGKILL)  # the cluster's children, if any outlived it


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
