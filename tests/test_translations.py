"""The translation catalogues: complete, well-formed, in sync with the code, and used.

Three kinds of check:

1. Completeness of locale/{zh_Hans,vi,es}/LC_MESSAGES/django.po, read with Babel: no
   message is untranslated (every plural form filled), none is fuzzy, the headers name
   the language and its plural rule, and the python-format placeholders of the English
   text are kept in the translation.

2. Sync with the code. Running makemessages from a test would rewrite the real catalogues,
   so instead the test extracts the messages itself, from the same files makemessages reads
   (the whole project less hidden directories, .venv/, var/ and static/vendor/), and
   compares them with every catalogue in both directions: nothing in the code is missing
   from a catalogue, and nothing in a catalogue is stale.
   - Python (*.py): parsed with `ast`; every call of `_`, gettext, gettext_lazy,
     gettext_noop, ngettext(_lazy), pgettext(_lazy) or npgettext(_lazy) (also as an
     attribute, translation.gettext) whose arguments are string literals, implicit
     concatenation included: the keywords makemessages gives xgettext.
   - Templates (*.html, *.txt): regular expressions for {% translate "…" %} and
     {% trans '…' %} (with an optional `context "…"`), {% blocktranslate … %}…
     {% endblocktranslate %} with its `count` / {% plural %} and `trimmed` forms ({{ var }}
     becomes %(var)s and % becomes %%, as Django does), and _("…") in tags and filters.
   When one fails, run
       manage.py makemessages -l en -l zh_Hans -l vi -l es --ignore='.venv/*'
           --ignore='static/vendor/*' --ignore='var/*' --no-obsolete
   and translate what it added (the failure lists each message with file:line).

3. Use: a page requested with the language cookie comes back in that language, and the
   compiled catalogues (the .mo files `make setup` builds) pick the right plural form.
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import translation

from chairtime.tenancy.roles import Role

ROOT = Path(settings.BASE_DIR)
LOCALE = ROOT / "locale"
# What makemessages is told to leave out (see the command in the docstring); it also skips
# hidden directories (.git, .venv, caches) by default.
IGNORED = {ROOT / ".venv", ROOT / "var", ROOT / "static" / "vendor"}

# Locale directory -> (Language header, plural rule, number of plural forms).
TRANSLATED = {
    "zh_Hans": ("zh_Hans", "nplurals=1; plural=0;", 1),
    "vi": ("vi", "nplurals=1; plural=0;", 1),
    "es": ("es", "nplurals=2; plural=(n != 1);", 2),
}
ALL_LOCALES = ["en", *TRANSLATED]

Key = tuple[str | None, str, str | None]  # (context, msgid, msgid_plural)


@dataclass(frozen=True)
class Entry:
    """One message of a catalogue, with the singular and plural cases made alike."""

    context: str | None
    msgid: str
    msgid_plural: str | None
    forms: tuple[str, ...]  # the msgstr, or msgstr[0], msgstr[1], …
    flags: frozenset[str]

    @property
    def key(self) -> Key:
        return (self.context, self.msgid, self.msgid_plural)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags


def _texts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, tuple | list):
        return tuple(str(item or "") for item in value)
    return ("",)


def load(locale: str) -> Catalog:
    with (LOCALE / locale / "LC_MESSAGES" / "django.po").open("rb") as handle:
        return read_po(handle, locale=None)


def entries(locale: str) -> list[Entry]:
    found = []
    for message in load(locale):
        if not message.id:
            continue  # the header
        ids = _texts(message.id)
        found.append(
            Entry(
                context=message.context,
                msgid=ids[0],
                msgid_plural=ids[1] if message.pluralizable else None,
                forms=_texts(message.string),
                flags=frozenset(message.flags),
            )
        )
    return found


# --- 1. Completeness ----------------------------------------------------------------------

PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")


def placeholders(text: str) -> set[str]:
    """Named placeholders by name, positional ones as '%<index>'; '%%' is not one."""
    found: set[str] = set()
    positional = 0
    for match in PLACEHOLDER.finditer(text.replace("%%", "")):
        if match.group(1):
            found.add(match.group(1))
        else:
            found.add(f"%{positional}")
            positional += 1
    return found


@pytest.mark.parametrize("locale", sorted(TRANSLATED))
def test_headers_name_the_language_and_its_plural_rule(locale: str) -> None:
    language, plural_rule, nplurals = TRANSLATED[locale]
    catalog = load(locale)
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == language
    assert headers["Plural-Forms"] == plural_rule
    assert catalog.num_plurals == nplurals
    assert catalog.charset == "utf-8"
    raw = (LOCALE / locale / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8")
    assert f'"Language: {language}\\n"' in raw
    assert f'"Plural-Forms: {plural_rule}\\n"' in raw
    assert not catalog.fuzzy, "the header is marked fuzzy"


@pytest.mark.parametrize("locale", sorted(TRANSLATED))
def test_every_message_is_translated_and_none_is_fuzzy(locale: str) -> None:
    nplurals = TRANSLATED[locale][2]
    found = entries(locale)
    assert len(found) > 300  # the catalogue was read at all
    fuzzy = [entry.key for entry in found if entry.fuzzy]
    untranslated = [
        entry.key
        for entry in found
        if len(entry.forms) != (nplurals if entry.msgid_plural is not None else 1)
        or not all(form.strip() for form in entry.forms)
    ]
    assert (fuzzy, untranslated) == ([], [])


@pytest.mark.parametrize("locale", sorted(TRANSLATED))
def test_translations_keep_the_placeholders(locale: str) -> None:
    """Each form keeps the placeholders of its English counterpart and adds none.

    With one plural form (Chinese, Vietnamese) that form serves every count, so it needs the
    placeholders of the English plural too; the singular of a language with more forms may
    leave the count out, as English "a minute" does.
    """
    nplurals = TRANSLATED[locale][2]
    wrong = []
    for entry in entries(locale):
        if "python-format" not in entry.flags:
            continue
        if entry.msgid_plural is None:
            if placeholders(entry.forms[0]) != placeholders(entry.msgid):
                wrong.append((entry.msgid, 0, entry.forms[0]))
            continue
        singular, plural = placeholders(entry.msgid), placeholders(entry.msgid_plural)
        for index, form in enumerate(entry.forms):
            required = set(singular if index == 0 else plural)
            if index == nplurals - 1:
                required |= plural
            found = placeholders(form)
            if not required <= found or not found <= singular | plural:
                wrong.append((entry.msgid, index, form))
    assert wrong == []


def test_messages_with_placeholders_are_marked_python_format() -> None:
    """The placeholder check above relies on the flag that makemessages sets."""
    unflagged = [
        entry.key
        for entry in entries("es")
        if "python-format" not in entry.flags
        and ("%(" in entry.msgid or "%(" in (entry.msgid_plural or ""))
    ]
    assert unflagged == []


GLOSSARY = {
    "Patients": {"zh_Hans": "患者", "vi": "Bệnh nhân", "es": "Pacientes"},
    "Branch": {"zh_Hans": "分院", "vi": "Chi nhánh", "es": "Sede"},
    "Chairs": {"zh_Hans": "牙椅", "vi": "Ghế nha", "es": "Sillones"},
    "Log in": {"zh_Hans": "登录", "vi": "Đăng nhập", "es": "Iniciar sesión"},
    "Appointment book": {"zh_Hans": "预约簿", "vi": "Lịch hẹn", "es": "Agenda"},
    "Doctor": {"zh_Hans": "医生", "vi": "Bác sĩ", "es": "Odontólogo"},
}


@pytest.mark.parametrize("locale", sorted(TRANSLATED))
def test_core_terms_follow_the_glossary(locale: str) -> None:
    by_msgid = {entry.msgid: entry.forms for entry in entries(locale)}
    found = {term: by_msgid[term][0] for term in GLOSSARY}
    assert found == {term: by_locale[locale] for term, by_locale in GLOSSARY.items()}


VIETNAMESE_LETTERS = re.compile(
    r"[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]"
)


def test_vietnamese_is_written_with_its_diacritics() -> None:
    """A translation typed without tone marks would pass the checks above; this would not.

    Words that need none (names of apps, codes) are few, so at least 85% of the messages
    must carry a Vietnamese letter.
    """
    texts = [" ".join(entry.forms) for entry in entries("vi")]
    marked = [text for text in texts if VIETNAMESE_LETTERS.search(text.lower())]
    assert len(marked) >= 0.85 * len(texts), [t for t in texts if t not in marked]


# --- 2. In sync with the code ------------------------------------------------------------

# Function name -> (index of the context argument or None, index of msgid, of msgid_plural).
GETTEXT_CALLS: dict[str, tuple[int | None, int, int | None]] = {
    "_": (None, 0, None),
    "gettext": (None, 0, None),
    "gettext_lazy": (None, 0, None),
    "gettext_noop": (None, 0, None),
    "ngettext": (None, 0, 1),
    "ngettext_lazy": (None, 0, 1),
    "pgettext": (0, 1, None),
    "pgettext_lazy": (0, 1, None),
    "npgettext": (0, 1, 2),
    "npgettext_lazy": (0, 1, 2),
}


def _literal(node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def source_files(*suffixes: str) -> list[Path]:
    """The files makemessages reads: .py as Python, .html and .txt as templates."""
    found = []
    for directory, subdirectories, files in os.walk(ROOT):
        here = Path(directory)
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".") and here / name not in IGNORED
        )
        found += [here / name for name in sorted(files) if name.endswith(suffixes)]
    return found


def python_messages() -> dict[Key, list[str]]:
    found: dict[Key, list[str]] = {}
    for path in source_files(".py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else None
            )
            if name not in GETTEXT_CALLS:
                continue
            context_at, msgid_at, plural_at = GETTEXT_CALLS[name]
            needed = max(i for i in (context_at, msgid_at, plural_at) if i is not None)
            if len(node.args) <= needed:
                continue
            context = _literal(node.args[context_at]) if context_at is not None else None
            msgid = _literal(node.args[msgid_at])
            plural = _literal(node.args[plural_at]) if plural_at is not None else None
            if msgid is None or (plural_at is not None and plural is None):
                continue  # not a literal: nothing for makemessages either
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            found.setdefault((context, msgid, plural), []).append(where)
    return found


_STRING = r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')"""
TRANSLATE_TAG = re.compile(r"\{%\s*(?:translate|trans)\s+" + _STRING + r"(.*?)%\}", re.DOTALL)
CONTEXT_OPTION = re.compile(r"\bcontext\s+" + _STRING)
BLOCK_TAG = re.compile(
    r"\{%\s*(?:blocktranslate|blocktrans)\b(.*?)%\}(.*?)\{%\s*(?:endblocktranslate|endblocktrans)\s*%\}",
    re.DOTALL,
)
PLURAL_TAG = re.compile(r"\{%\s*plural\s*%\}")
BLOCK_VARIABLE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")
UNDERSCORE_CALL = re.compile(r"\b_\(\s*" + _STRING + r"\s*\)")


def _unquote(match: re.Match[str], first: int) -> str:
    double, single = match.group(first), match.group(first + 1)
    return double if double is not None else single


def _block_text(body: str, trimmed: bool) -> str:
    if trimmed:
        body = re.sub(r"\s*\n\s*", " ", body.strip())
    body = body.replace("%", "%%")
    return BLOCK_VARIABLE.sub(lambda m: f"%({m.group(1)})s", body)


def template_messages() -> dict[Key, list[str]]:
    found: dict[Key, list[str]] = {}

    def add(key: Key, path: Path, position: int, text: str) -> None:
        line = text.count("\n", 0, position) + 1
        found.setdefault(key, []).append(f"{path.relative_to(ROOT)}:{line}")

    for path in source_files(".html", ".txt"):
        text = path.read_text(encoding="utf-8")
        for match in TRANSLATE_TAG.finditer(text):
            options = match.group(3)
            context_match = CONTEXT_OPTION.search(options)
            context = _unquote(context_match, 1) if context_match else None
            add((context, _unquote(match, 1), None), path, match.start(), text)
        for match in BLOCK_TAG.finditer(text):
            options, body = match.group(1), match.group(2)
            trimmed = re.search(r"\btrimmed\b", options) is not None
            context_match = CONTEXT_OPTION.search(options)
            context = _unquote(context_match, 1) if context_match else None
            parts = PLURAL_TAG.split(body, maxsplit=1)
            singular = _block_text(parts[0], trimmed)
            plural = _block_text(parts[1], trimmed) if len(parts) == 2 else None
            add((context, singular, plural), path, match.start(), text)
        for match in UNDERSCORE_CALL.finditer(text):
            add((None, _unquote(match, 1), None), path, match.start(), text)
    return found


def code_messages() -> dict[Key, list[str]]:
    found = python_messages()
    for key, places in template_messages().items():
        found.setdefault(key, []).extend(places)
    return found


def test_the_extraction_finds_the_known_kinds_of_message() -> None:
    """Guards the scanner itself: one message of each kind it must recognise."""
    found = code_messages()
    assert (None, "Log in", None) in found  # {% translate %}
    assert (None, "Patients", None) in found  # gettext_lazy in Python
    assert (None, "Page %(number)s of %(total)s", None) in found  # blocktranslate with
    assert (None, "%(months)s month", "%(months)s months") in found  # count / plural
    assert (None, "The patient could not be saved.", None) in found  # gettext as _


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_every_message_in_the_code_is_in_the_catalogue(locale: str) -> None:
    catalogued = {entry.key for entry in entries(locale)}
    missing = {key: places for key, places in code_messages().items() if key not in catalogued}
    assert missing == {}, "run makemessages, then translate the new messages"


@pytest.mark.parametrize("locale", ALL_LOCALES)
def test_the_catalogue_has_no_message_the_code_lost(locale: str) -> None:
    in_code = set(code_messages())
    stale = sorted((entry.key for entry in entries(locale) if entry.key not in in_code), key=str)
    assert stale == [], "run makemessages with --no-obsolete"


# --- 3. Used at run time -----------------------------------------------------------------

LOGIN_PAGE = {
    "vi": ("vi", "Đăng nhập", "Đổi"),
    "zh-hans": ("zh-hans", "登录", "更改"),
    "es": ("es", "Iniciar sesión", "Cambiar"),
    "en": ("en", "Log in", "Change"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("language", sorted(LOGIN_PAGE))
def test_the_login_page_speaks_the_language_of_the_cookie(language: str) -> None:
    html_lang, log_in, change = LOGIN_PAGE[language]
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert response["Content-Language"] == html_lang
    html = response.content.decode()
    assert f'<html lang="{html_lang}">' in html
    assert f"<title>{log_in} · Chairtime</title>" in html
    assert f'<button type="submit">{log_in}</button>' in html
    assert f'<button type="submit" class="secondary">{change}</button>' in html


@pytest.mark.parametrize(
    ("language", "one", "five"),
    [
        ("es", "1 mes", "5 meses"),
        ("vi", "1 tháng", "5 tháng"),
        ("zh-hans", "1 个月", "5 个月"),
        ("en", "1 month", "5 months"),
    ],
)
def test_compiled_catalogues_choose_the_plural_form(language: str, one: str, five: str) -> None:
    with translation.override(language):
        forms = [
            translation.ngettext("%(months)s month", "%(months)s months", n) % {"months": n}
            for n in (1, 5)
        ]
    assert forms == [one, five]


@pytest.mark.parametrize(
    ("language", "label"),
    [("es", "Odontólogo"), ("vi", "Bác sĩ"), ("zh-hans", "医生"), ("en", "Doctor")],
)
def test_lazy_labels_follow_the_active_language(language: str, label: str) -> None:
    with translation.override(language):
        assert str(Role.DOCTOR.label) == label
