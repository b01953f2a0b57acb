"""Security settings and defences: deploy checks, secrets, hashing, lockout, sessions,
Content Security Policy, clickjacking and CSRF."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chairtime.patients.models import Patient
from chairtime.patients.services import add_medical_alert
from chairtime.tenancy.roles import Role
from tests.factories import PASSWORD, PatientFactory, TagFactory, UserFactory
from tests.test_role_walk import PAGES, Page

ROOT = Path(settings.BASE_DIR)
LOGIN_URL = reverse("accounts:login")


# --- Production settings, checked in a fresh process ------------------------------------


def run_python(tmp_path: Path, *args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    """Run the project's Python with only the given Chairtime variables set."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CHAIRTIME_", "DATABASE_URL", "SQLITE_", "DJANGO_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        CHAIRTIME_VAR_DIR=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    )
    env.update(variables)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def production(**overrides: str) -> dict[str, str]:
    variables = {
        "CHAIRTIME_ENV": "production",
        "CHAIRTIME_SECRET_KEY": secrets.token_urlsafe(50),
        "CHAIRTIME_ALLOWED_HOSTS": "clinic.example",
    }
    variables.update(overrides)
    return variables


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_production_settings_pass_the_deploy_checks(tmp_path):
    result = run_python(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING", **production()
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_deploy_checks_catch_a_weak_secret_key(tmp_path):
    result = run_python(
        tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
        **production(CHAIRTIME_SECRET_KEY="too-short"),
    )  # fmt: skip

    assert result.returncode == 1
    assert "security.W009" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    variables = production()
    del variables["CHAIRTIME_SECRET_KEY"]

    result = run_python(tmp_path, "-c", "import django; django.setup()", **variables)

    assert result.returncode == 1
    assert last_line(result.stderr) == (
        "config.env.ImproperSetting: CHAIRTIME_SECRET_KEY must be set in production"
    )


@pytest.mark.parametrize(
    "variables",
    [production(), {"CHAIRTIME_ENV": "development"}],
    ids=["production", "development"],
)
def test_passwords_are_hashed_with_argon2_outside_the_test_suite(tmp_path, variables):
    script = (
        "import django; django.setup()\n"
        "from django.conf import settings\n"
        "from django.contrib.auth.hashers import make_password\n"
        "print(settings.PASSWORD_HASHERS[0])\n"
        "print(make_password('a patient record').split('$')[0])\n"
    )

    result = run_python(tmp_path, "-c", script, **variables)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "argon2",
    ]


def test_test_suite_hashes_with_md5_for_speed_and_argon2_next():
    assert settings.PASSWORD_HASHERS[:2] == [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.Argon2PasswordHasher",
    ]


# --- Login lockout (django-axes) --------------------------------------------------------


def log_in(username: str, password: str, address: str, **headers: str):
    """One login attempt from a fresh browser at the given address."""
    client = Client()
    response = client.post(
        LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address, **headers
    )
    return client, response


def assert_logged_in(client: Client, response) -> None:
    assert response.status_code == 302
    assert response["Location"] == reverse("analytics:home")
    assert "_auth_user_id" in client.session


def assert_locked_out(client: Client, response) -> None:
    # django-axes answers 429 Too Many Requests with our lockout page in place of the
    # login page the view rendered.
    assert response.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in response.templates]
    html = response.content.decode()
    assert "<h1>Too many failed logins</h1>" in html
    assert 'name="password"' not in html
    assert "_auth_user_id" not in client.session


@pytest.fixture
def xuan(db):
    return UserFactory(username="xuan")


@pytest.fixture
def yen(db):
    return UserFactory(username="yen")


def fail_logins(username: str, address: str, times: int) -> list[int]:
    return [log_in(username, "wrong", address)[1].status_code for _ in range(times)]


def test_fifth_failure_locks_the_user_out_from_that_address(xuan):
    assert settings.AXES_FAILURE_LIMIT == 5

    assert fail_logins("xuan", "10.0.0.1", 5) == [200, 200, 200, 200, 429]

    assert_locked_out(*log_in("xuan", PASSWORD, "10.0.0.1"))


def test_lockout_spares_the_user_elsewhere_and_others_at_that_address(xuan, yen):
    fail_logins("xuan", "10.0.0.1", 5)

    assert_logged_in(*log_in("xuan", PASSWORD, "10.0.0.2"))
    assert_logged_in(*log_in("yen", PASSWORD, "10.0.0.1"))
    # A success elsewhere does not lift the lock at the first address.
    assert_locked_out(*log_in("xuan", PASSWORD, "10.0.0.1"))


def test_forged_forwarded_for_header_does_not_escape_the_lockout(xuan):
    fail_logins("xuan", "10.0.0.1", 5)

    assert_locked_out(*log_in("xuan", PASSWORD, "10.0.0.1", HTTP_X_FORWARDED_FOR="10.9.9.9"))


def test_behind_one_proxy_the_lockout_counts_the_address_the_proxy_saw(xuan, settings):
    """With CHAIRTIME_PROXY_COUNT=1 every request comes from the proxy's address; the
    client is the last X-Forwarded-For entry, and entries left of it are the client's
    own (forgeable) words."""
    settings.CHAIRTIME_PROXY_COUNT = 1
    proxy = "10.0.0.254"
    for _ in range(5):
        log_in("xuan", "wrong", proxy, HTTP_X_FORWARDED_FOR="1.2.3.4")

    assert_locked_out(*log_in("xuan", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="1.2.3.4"))
    assert_locked_out(*log_in("xuan", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="9.9.9.9, 1.2.3.4"))
    assert_logged_in(*log_in("xuan", PASSWORD, proxy, HTTP_X_FORWARDED_FOR="5.6.7.8"))


def test_lockout_page_states_the_configured_cool_off(xuan, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=45)
    fail_logins("xuan", "10.0.0.1", 5)

    _client, response = log_in("xuan", PASSWORD, "10.0.0.1")

    assert "for 45 minutes after repeated failures" in response.content.decode()


def test_success_before_the_limit_clears_the_count(xuan):
    fail_logins("xuan", "10.0.0.1", 4)
    assert_logged_in(*log_in("xuan", PASSWORD, "10.0.0.1"))

    assert fail_logins("xuan", "10.0.0.1", 4) == [200, 200, 200, 200]
    assert_logged_in(*log_in("xuan", PASSWORD, "10.0.0.1"))


# --- Session idle timeout ---------------------------------------------------------------


def test_sessions_end_after_thirty_idle_minutes():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_COOKIE_HTTPONLY is True


def set_session_expiry(client: Client, expire_date) -> None:
    updated = Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=expire_date
    )
    assert updated == 1


def test_idle_session_past_its_expiry_is_logged_out(persona, logged_in):
    client = logged_in(persona(Role.RECEPTIONIST))
    assert client.get(reverse("patients:patient_list")).status_code == 200

    set_session_expiry(client, timezone.now() - timedelta(seconds=1))
    response = client.get(reverse("patients:patient_list"))

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next={reverse('patients:patient_list')}"


def test_each_request_pushes_the_expiry_a_full_idle_period_ahead(persona, logged_in):
    client = logged_in(persona(Role.RECEPTIONIST))
    set_session_expiry(client, timezone.now() + timedelta(minutes=1))
    before = timezone.now()

    assert client.get(reverse("patients:patient_list")).status_code == 200

    session = Session.objects.get(session_key=client.session.session_key)
    assert session.expire_date >= before + timedelta(seconds=settings.SESSION_COOKIE_AGE)


def test_a_session_ends_twelve_hours_after_login_however_active(persona, logged_in):
    from chairtime.accounts.middleware import SESSION_STARTED_KEY

    client = logged_in(persona(Role.RECEPTIONIST))
    assert client.get(reverse("analytics:home")).status_code == 200
    session = client.session
    session[SESSION_STARTED_KEY] -= settings.SESSION_MAX_AGE_SECONDS + 1
    session.save()

    response = client.get(reverse("analytics:home"))

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next=/"
    assert "_auth_user_id" not in client.session


def test_logged_in_pages_are_never_cached(persona, logged_in):
    response = logged_in(persona(Role.RECEPTIONIST)).get(reverse("patients:patient_list"))
    assert set(response["Cache-Control"].split(", ")) == {
        "max-age=0", "no-cache", "no-store", "must-revalidate", "private",
    }  # fmt: skip


# --- Content Security Policy, clickjacking, inline code ---------------------------------


def parse_policy(header: str) -> dict[str, list[str]]:
    directives = [part.split() for part in header.split(";") if part.strip()]
    return {name: values for name, *values in directives}


def assert_hardened_headers(response) -> None:
    header = response["Content-Security-Policy"]
    policy = parse_policy(header)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in header
    assert "'unsafe-eval'" not in header
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


class InlineCodeFinder(HTMLParser):
    """Everything in a page that a strict Content Security Policy would block."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and not attributes.get("src"):
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attributes.items():
            if name == "style":
                self.found.append(f"style= on <{tag}>")
            elif name.startswith(("on", "hx-on")):
                self.found.append(f"{name}= on <{tag}>")
            elif name in {"href", "src", "action"} and (value or "").lower().startswith(
                "javascript:"
            ):
                self.found.append(f"javascript: URL on <{tag}>")


def inline_code_in(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def full_patient(world, persona) -> Patient:
    """A patient with something in every section of the detail page."""
    referrer = PatientFactory(home_branch=world.branch_a)
    patient = PatientFactory(
        home_branch=world.branch_a, phone="+84912345678", referred_by_patient=referrer,
        notes="Prefers mornings\nNervous about needles",
    )  # fmt: skip
    patient.tags.add(TagFactory(organization=world.acme, name="VIP"))
    add_medical_alert(
        actor=persona(Role.OWNER), patient=patient,
        kind="allergy", description="Latex", severity="critical",
    )  # fmt: skip
    return patient


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.url_name)
def test_every_page_is_served_with_a_strict_policy_and_no_inline_code(
    page: Page, persona, logged_in, full_patient
):
    owner = persona(Role.OWNER)

    response = logged_in(owner).get(page.url(full_patient, owner))

    assert response.status_code == 200
    assert_hardened_headers(response)
    if response["Content-Type"] == "application/pdf":  # a printable page drawn: no HTML
        assert response.content.startswith(b"%PDF-")
    elif not response["Content-Type"].startswith("text/html"):  # CSV, Excel: a download
        assert response["Content-Disposition"].startswith("attachment; filename=")
    else:
        assert inline_code_in(response.content.decode()) == []


def test_patient_detail_shows_its_sections_without_inline_code(persona, logged_in, full_patient):
    response = logged_in(persona(Role.OWNER)).get(
        reverse("patients:patient_detail", args=[full_patient.pk])
    )
    html = response.content.decode()

    assert "Latex" in html and "VIP" in html and 'id="consents"' in html
    assert inline_code_in(html) == []


def test_public_pages_carry_the_same_headers(client):
    login_page = client.get(LOGIN_URL)
    not_found = client.get("/no-such-page/")

    assert login_page.status_code == 200
    assert not_found.status_code == 404
    for response in (login_page, not_found):
        assert_hardened_headers(response)
        assert inline_code_in(response.content.decode()) == []


# --- CSRF -------------------------------------------------------------------------------


class TokenFinder(HTMLParser):
    """The CSRF token of the page's first form, and the headers htmx sends from <body>."""

    def __init__(self) -> None:
        super().__init__()
        self.form_tokens: list[str] = []
        self.htmx_headers: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("name") == "csrfmiddlewaretoken":
            self.form_tokens.append(attributes["value"] or "")
        if tag == "body" and "hx-headers" in attributes:
            self.htmx_headers = json.loads(attributes["hx-headers"] or "")


def tokens_of(response) -> TokenFinder:
    finder = TokenFinder()
    finder.feed(response.content.decode())
    return finder


@pytest.fixture
def strict_client(persona) -> Client:
    """A browser whose every POST is checked for a CSRF token, as in production."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(persona(Role.RECEPTIONIST))
    return client


def new_patient_data(world) -> dict[str, str]:
    return {
        "family_name": "Lê", "given_name": "Thị Csrf", "name_order": "family_first",
        "home_branch": str(world.branch_a.pk), "sex": "female", "status": "active",
    }  # fmt: skip


def test_post_without_csrf_token_is_forbidden_and_creates_nothing(world, strict_client):
    url = reverse("patients:patient_create")
    assert strict_client.get(url).status_code == 200  # the browser holds the CSRF cookie

    response = strict_client.post(url, new_patient_data(world))

    assert response.status_code == 403
    assert Patient.objects.count() == 0


def test_post_with_the_pages_csrf_token_creates_the_patient(world, strict_client):
    url = reverse("patients:patient_create")
    token = tokens_of(strict_client.get(url)).form_tokens[0]

    response = strict_client.post(url, {**new_patient_data(world), "csrfmiddlewaretoken": token})

    patient = Patient.objects.get()
    assert patient.display_name == "Lê Thị Csrf"
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:patient_detail", args=[patient.pk])


def test_htmx_requests_carry_the_csrf_token_from_the_body(world, strict_client):
    patient = PatientFactory(home_branch=world.branch_a)
    detail = strict_client.get(reverse("patients:patient_detail", args=[patient.pk]))
    headers = tokens_of(detail).htmx_headers
    assert headers is not None and set(headers) == {"X-CSRFToken"}
    url = reverse("patients:patient_consents", args=[patient.pk])
    data = {"consent_service": ["sms"], "origin": "verbal"}

    without = strict_client.post(url, data, HTTP_HX_REQUEST="true")
    with_token = strict_client.post(
        url, data, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=headers["X-CSRFToken"]
    )

    assert without.status_code == 403
    assert with_token.status_code == 200
    assert patient.consents.filter(channel="sms", purpose="service", is_granted=True).count() == 1
