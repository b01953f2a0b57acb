"""The background queue, end to end, with a real `manage.py qcluster` in its own process.

The worker gets the test database through DATABASE_URL, exactly as production gets its
database, so these tests prove the django-q2 ORM broker round trip on SQLite and on
PostgreSQL: a task enqueued here is run there and its result comes back here; a worker
killed half-way through a task loses nothing, because the task stays in the queue, locked
only until the retry time, and the next worker runs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task

from chairtime.core.models import WorkerHeartbeat

pytestmark = pytest.mark.worker

PROJECT_ROOT = Path(settings.BASE_DIR)
WAIT_SECONDS = 60


def database_url() -> str:
    """The test database as a DATABASE_URL, for the worker process."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    password = f":{quote(database['PASSWORD'], safe='')}" if database["PASSWORD"] else ""
    return (
        f"postgres://{quote(database['USER'], safe='')}{password}"
        f"@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    )


class Worker:
    """One `manage.py qcluster` in a session of its own, logging to a file."""

    def __init__(self, log: Path, **environment: str) -> None:
        self.log = log
        env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "CHAIRTIME_WORKERS": "1",
            "CHAIRTIME_LOG_LEVEL": "INFO",  # the log goes into failure messages
            "PYTHONUNBUFFERED": "1",
            **environment,
        }
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one signal reaches all
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-4000:]

    def stop(self) -> None:
        """SIGTERM to the cluster's main process only, as `docker stop` sends it.

        Not to the whole group: django-q2's sentinel process keeps the default SIGTERM
        action and dies at once, and the main process then hangs in its stop handler,
        never exiting (seen with django-q2 1.11; for systemd this means `KillMode=mixed`).
        """
        self.process.send_signal(signal.SIGTERM)

    def signal_group(self, signal_number: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.killpg(self.process.pid, signal_number)

    def wait_for_exit(self) -> int:
        try:
            return self.process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the worker did not exit within {WAIT_SECONDS} s:\n{self.output()}")

    def whole_group_exited(self) -> bool:
        """No process of the group is left (orphans take a moment to be reaped)."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.1)
        return False

    def kill(self) -> None:
        """Clean-up: nothing of this worker may outlive the test."""
        self.signal_group(signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=WAIT_SECONDS)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(**environment: str) -> Worker:
        worker = Worker(tmp_path / f"worker-{len(workers) + 1}.log", **environment)
        workers.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in workers:
            worker.kill()


def wait_until(condition: Callable[[], bool], what: str, worker: Worker) -> None:
    """Poll until the condition holds; fail with the worker's log after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if worker.process.poll() is not None:
            pytest.fail(f"the worker exited ({worker.process.returncode}) before {what}:\n"
                        f"{worker.output()}")  # fmt: skip
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT_SECONDS} s:\n{worker.output()}")
        time.sleep(0.1)


def succeeded(task_id: str) -> Callable[[], bool]:
    return lambda: Task.objects.filter(id=task_id, success=True).exists()


@pytest.fixture
def no_schedules(transactional_db: None) -> None:
    """The migration's every-minute heartbeat schedule would add a heartbeat of its own."""
    Schedule.objects.all().delete()


def test_worker_process_runs_an_enqueued_task_and_stops_on_sigterm(no_schedules, start_worker):
    task_id = async_task("chairtime.core.tasks.record_worker_heartbeat_task")

    worker = start_worker()
    wait_until(succeeded(task_id), "the heartbeat task succeeding", worker)

    task = Task.objects.get(id=task_id)
    assert task.result == 1
    assert task.attempt_count == 1
    heartbeat = WorkerHeartbeat.objects.get(cluster="chairtime")
    assert heartbeat.beats == 1
    # Acknowledged, so it will not run again. django-q2's monitor saves the result first
    # and deletes the queue row just after, so the acknowledgement is waited for too.
    wait_until(lambda: OrmQ.objects.count() == 0, "the task being acknowledged", worker)

    worker.stop()
    assert worker.wait_for_exit() == 0, worker.output()
    assert worker.whole_group_exited()


def test_crash_recovery_settings_hand_out_a_dead_workers_task_again_but_not_a_slow_one():
    cluster = settings.Q_CLUSTER
    assert cluster["retry"] > cluster["timeout"]
    assert cluster["max_attempts"] == 5
    assert cluster["ack_failures"] is True


def test_settings_refuse_a_retry_time_not_longer_than_the_timeout():
    environment = {
        **os.environ,
        "CHAIRTIME_TASK_TIMEOUT_SECONDS": "60",
        "CHAIRTIME_TASK_RETRY_SECONDS": "60",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=WAIT_SECONDS,
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        "ImproperSetting: CHAIRTIME_TASK_RETRY_SECONDS must exceed CHAIRTIME_TASK_TIMEOUT_SECONDS"
        in result.stderr
    )


def test_task_of_a_killed_worker_is_run_again_by_the_next_worker_exactly_once(
    no_schedules, start_worker, tmp_path
):
    marker = tmp_path / "marks.txt"
    marker.touch()
    task_id = async_task("tests.worker_tasks.sleep_and_mark_task", str(marker), 2.0)
    short_times = {"CHAIRTIME_TASK_TIMEOUT_SECONDS": "4", "CHAIRTIME_TASK_RETRY_SECONDS": "5"}

    first = start_worker(**short_times)
    wait_until(lambda: marker.read_text() == "start\n", "the first run starting", first)
    first.signal_group(signal.SIGKILL)
    assert first.wait_for_exit() == -signal.SIGKILL
    assert first.whole_group_exited()

    assert marker.read_text().split() == ["start"]
    assert not Task.objects.filter(id=task_id).exists()
    assert OrmQ.objects.count() == 1  # still queued, locked until the retry time

    second = start_worker(**short_times)
    wait_until(succeeded(task_id), "the task succeeding in the second worker", second)

    assert marker.read_text().split() == ["start", "start", "finish"]
    task = Task.objects.get(id=task_id)
    assert task.result == "finished"
    assert task.attempt_count == 1  # the killed run never reported back
    wait_until(lambda: OrmQ.objects.count() == 0, "the task being acknowledged", second)

    second.stop()
    assert second.wait_for_exit() == 0, second.output()
    assert second.whole_group_exited()
