"""The typed environment readers (config/env.py), and settings that refuse bad values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from config.env import ImproperSetting, env_bool, env_choice, env_int, env_list, env_str

NAME = "CHAIRTIME_TEST_VALUE"
ROOT = Path(settings.BASE_DIR)


@pytest.fixture
def unset(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)


# --- env_str ----------------------------------------------------------------------------


def test_string_unset_gives_the_default(unset):
    assert env_str(NAME, "fallback") == "fallback"


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_string_blank_gives_the_default(monkeypatch, blank):
    monkeypatch.setenv(NAME, blank)

    assert env_str(NAME, "fallback") == "fallback"


def test_string_is_read_without_surrounding_spaces(monkeypatch):
    monkeypatch.setenv(NAME, "  postgres://db/chairtime \n")

    assert env_str(NAME, "fallback") == "postgres://db/chairtime"


# --- env_bool ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["1", "true", "True", "YES", "yes", "on", "On", " true "])
def test_boolean_true_spellings(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    assert env_bool(NAME, False) is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "No", "off", "OFF"])
def test_boolean_false_spellings(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    assert env_bool(NAME, True) is False


@pytest.mark.parametrize("default", [True, False])
def test_boolean_unset_or_blank_gives_the_default(monkeypatch, default):
    monkeypatch.delenv(NAME, raising=False)
    assert env_bool(NAME, default) is default

    monkeypatch.setenv(NAME, " ")
    assert env_bool(NAME, default) is default


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "t", "enabled", "truee"])
def test_boolean_refuses_other_words_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    with pytest.raises(ImproperSetting) as error:
        env_bool(NAME, False)

    assert str(error.value) == f"{NAME}={raw!r}: expected true/false, yes/no, on/off or 1/0"


# --- env_int ----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "number"), [("42", 42), (" 7 ", 7), ("-3", -3), ("0", 0)])
def test_integer_accepts_whole_numbers(monkeypatch, raw, number):
    monkeypatch.setenv(NAME, raw)

    assert env_int(NAME, 99) == number


def test_integer_unset_gives_the_default(unset):
    assert env_int(NAME, 99, minimum=1) == 99


@pytest.mark.parametrize("raw", ["abc", "1.5", "20s", "1e3", "0x10"])
def test_integer_refuses_what_is_not_a_whole_number(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    with pytest.raises(ImproperSetting) as error:
        env_int(NAME, 99)

    assert str(error.value) == f"{NAME}={raw!r}: expected a whole number"


def test_integer_at_the_minimum_is_accepted(monkeypatch):
    monkeypatch.setenv(NAME, "1")

    assert env_int(NAME, 99, minimum=1) == 1


@pytest.mark.parametrize("raw", ["0", "-5"])
def test_integer_below_the_minimum_is_refused(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    with pytest.raises(ImproperSetting) as error:
        env_int(NAME, 99, minimum=1)

    assert str(error.value) == f"{NAME}={raw!r}: must be at least 1"


# --- env_list ---------------------------------------------------------------------------


def test_list_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv(NAME, "clinic.example, www.clinic.example,, ")

    assert env_list(NAME, ["default"]) == ["clinic.example", "www.clinic.example"]


def test_list_of_one(monkeypatch):
    monkeypatch.setenv(NAME, "clinic.example")

    assert env_list(NAME, []) == ["clinic.example"]


def test_list_unset_gives_a_copy_of_the_default(unset):
    default = ["localhost"]

    result = env_list(NAME, default)

    assert result == ["localhost"]
    assert result is not default


# --- env_choice -------------------------------------------------------------------------

ENVIRONMENTS = ("development", "test", "production")


@pytest.mark.parametrize("raw", ENVIRONMENTS)
def test_choice_accepts_each_listed_value(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    assert env_choice(NAME, "development", ENVIRONMENTS) == raw


def test_choice_unset_gives_the_default(unset):
    assert env_choice(NAME, "test", ENVIRONMENTS) == "test"


@pytest.mark.parametrize("raw", ["staging", "Production", "prod"])
def test_choice_refuses_unlisted_values_and_lists_the_choices(monkeypatch, raw):
    monkeypatch.setenv(NAME, raw)

    with pytest.raises(ImproperSetting) as error:
        env_choice(NAME, "development", ENVIRONMENTS)

    assert str(error.value) == f"{NAME}={raw!r}: expected one of development, test, production"


# --- Settings refuse to load with a bad value -------------------------------------------


def start_django(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh process with only these Chairtime variables set."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CHAIRTIME_", "DATABASE_URL", "SQLITE_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CHAIRTIME_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'settings.sqlite3'}",
    )
    env.update(variables)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_settings_load_with_the_defaults(tmp_path):
    result = start_django(tmp_path, CHAIRTIME_ENV="test")

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"CHAIRTIME_ENV": "staging"},
            "CHAIRTIME_ENV='staging': expected one of development, test, production",
        ),
        (
            {"SQLITE_BUSY_TIMEOUT_SECONDS": "abc"},
            "SQLITE_BUSY_TIMEOUT_SECONDS='abc': expected a whole number",
        ),
        (
            {"SQLITE_BUSY_TIMEOUT_SECONDS": "0"},
            "SQLITE_BUSY_TIMEOUT_SECONDS='0': must be at least 1",
        ),
        (
            {"CHAIRTIME_DEBUG": "maybe"},
            "CHAIRTIME_DEBUG='maybe': expected true/false, yes/no, on/off or 1/0",
        ),
        (
            {"CHAIRTIME_SESSION_IDLE_MINUTES": "half an hour"},
            "CHAIRTIME_SESSION_IDLE_MINUTES='half an hour': expected a whole number",
        ),
        (
            {"CHAIRTIME_LOGIN_FAILURE_LIMIT": "0"},
            "CHAIRTIME_LOGIN_FAILURE_LIMIT='0': must be at least 1",
        ),
        (
            {"CHAIRTIME_TASK_TIMEOUT_SECONDS": "300", "CHAIRTIME_TASK_RETRY_SECONDS": "200"},
            "CHAIRTIME_TASK_RETRY_SECONDS must exceed CHAIRTIME_TASK_TIMEOUT_SECONDS",
        ),
    ],
    ids=[
        "environment",
        "busy-timeout-word",
        "busy-timeout-zero",
        "debug",
        "idle",
        "lockout",
        "retry",
    ],
)
def test_settings_refuse_a_bad_value_naming_the_variable(tmp_path, variables, message):
    result = start_django(tmp_path, **{"CHAIRTIME_ENV": "test", **variables})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"config.env.ImproperSetting: {message}"
