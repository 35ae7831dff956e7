"""Languages: BCP 47 tags, the fallback chain, complete shipped languages, imports with any tag,
and a language added by adding files alone."""
from __future__ import annotations

import io
import shutil
import string
import tomllib

import pytest

from incident import locales
from incident.broadcast import templates as T
from incident.broadcast.models import KINDS
from incident.config import ConfigError, load_settings
from incident.customers.csv_import import import_csv

from ..conftest import count_rows
from ..helpers import broadcast, run_worker

SHIPPED = ("en", "it", "fr", "de", "es")


@pytest.fixture
def restore_locales(app):
    # The languages are read at start; a page rendered before (the app lives for the whole session, and its
    # status page keeps what it rendered while nothing changed) would not offer the new ones: start afresh.
    app.extensions.pop("status_snapshot", None)
    yield
    locales.configure(default=app.config["DEFAULT_LOCALE"], extra_dirs=app.config["LOCALE_DIRS"])
    app.extensions.pop("status_snapshot", None)


@pytest.mark.parametrize("raw, canonical", [("fr", "fr"), ("de_ch", "de-CH"), ("PT-br", "pt-BR"),
                                            ("sr-latn-rs", "sr-Latn-RS"), ("es-419", "es-419"),
                                            ("de-CH-1901", "de-CH-1901")])
def test_tags_are_kept_in_their_canonical_spelling(raw, canonical):
    assert locales.parse_tag(raw) == canonical


@pytest.mark.parametrize("raw, reason", [("xx", "unknown language 'xx'"), ("de-XY", "unknown region 'XY'"),
                                         ("en-Abcd", "unknown script 'Abcd'"), ("en US", "not a BCP 47"),
                                         ("", "required"), ("x" * 40, "longer than 35")])
def test_bad_tags_are_refused_with_the_reason(raw, reason):
    with pytest.raises(locales.InvalidLocale, match=reason):
        locales.parse_tag(raw)


def test_the_chain_walks_parents_then_the_default_then_english(restore_locales):
    assert locales.chain("de-CH") == ["de-CH", "de", "en"]
    assert locales.chain("zh-Hant-TW") == ["zh-Hant-TW", "zh-Hant", "zh", "en"]
    assert locales.chain("nonsense!") == ["en"]
    locales.configure(default="it-CH")
    assert locales.chain("de-CH") == ["de-CH", "de", "it-CH", "it", "en"]
    assert locales.language_for("pt-BR") == "it"                    # no Portuguese: the default's language
    assert locales.t("pt-BR", "title") == "Stato dei servizi"
    assert locales.language_for("fr-CA") == "fr"
    assert T.resolve("apology", "email", "nl")[0] == "it"


def test_every_shipped_language_is_complete():
    english = _strings("en")
    fields = string.Formatter()
    for tag in SHIPPED:
        assert tag in locales.available()
        strings = _strings(tag)
        assert set(strings) == set(english), tag
        for key, text in english.items():
            assert {f[1] for f in fields.parse(text) if f[1]} == {f[1] for f in fields.parse(strings[key]) if f[1]}, \
                (tag, key)
        for kind in KINDS:
            for channel in T.CHANNELS:
                assert T.shipped(kind, channel, tag) is not None, (tag, kind, channel)


def _strings(tag: str) -> dict:
    with (locales.SHIPPED_DIR / f"{tag}.toml").open("rb") as handle:
        return locales._flatten(tomllib.load(handle))


def test_dates_and_numbers_follow_the_readers_locale():
    from datetime import datetime, timezone
    when = datetime(2026, 11, 22, 9, 30, tzinfo=timezone.utc)
    assert locales.format_when(when, "en") == "22 Nov 2026 09:30 UTC"
    assert locales.format_when(when, "it") == "22 nov 2026 09:30 UTC"
    assert locales.format_when(when, "de-CH") == "22. Nov. 2026 09:30 UTC"
    assert locales.format_when(when, "fr") == "22 nov. 2026 09:30 UTC"
    assert locales.format_number(1234567, "de") == "1.234.567" and locales.format_number(1234567, "en") == "1,234,567"


def test_settings_check_the_default_locale_and_the_language_dirs(tmp_path):
    assert load_settings({"DEFAULT_LOCALE": "de_ch"}).DEFAULT_LOCALE == "de-CH"
    assert load_settings({"LOCALE_DIRS": str(tmp_path)}).LOCALE_DIRS == [str(tmp_path)]
    with pytest.raises(ConfigError, match="DEFAULT_LOCALE: expected a BCP 47 language tag"):
        load_settings({"DEFAULT_LOCALE": "klingon"})
    with pytest.raises(ConfigError, match="LOCALE_DIRS: expected existing directories"):
        load_settings({"LOCALE_DIRS": str(tmp_path / "missing")})


CRM = """external_id,email,locale
F-1,claire@example.fr,fr
D-1,jonas@example.ch,de_CH
P-1,joao@example.br,pt-BR
"""


def test_a_crm_with_french_swiss_and_brazilian_customers_loads(app, api, ctx):
    result = import_csv(io.BytesIO(CRM.encode()))
    assert (result.written, result.created) == (True, 3)
    items = api.get("/api/v1/customers?per_page=10").get_json()["items"]
    assert {c["external_id"]: c["locale"] for c in items} == {"F-1": "fr", "D-1": "de-CH", "P-1": "pt-BR"}


def test_a_bad_tag_refuses_the_import_with_the_reason_and_writes_nothing(app, api, ctx):
    result = import_csv(io.BytesIO((CRM + "K-1,worf@example.com,tlh-QO-x\n").encode()))
    assert not result.written
    [(line, reason)] = result.errors
    assert line == 5 and "not a BCP 47 language tag" in reason
    assert count_rows(app, "customers") == {"customers": 0}
    response = api.post("/api/v1/customers", json={"customers": [{"email": "a@example.com", "locale": "fr"},
                                                                 {"email": "b@example.com", "locale": "xx-YY"}]})
    assert response.status_code == 422 and "unknown language 'xx'" in str(response.get_json()["error"])
    assert count_rows(app, "customers") == {"customers": 0}


DUTCH_SUBJECT = "Onze excuses: {{ incident.title }} ({{ incident.reference }})"
DUTCH_BODY = "Beste {{ customer_name }},\n\nHet spijt ons: {{ incident.title|sentence }}\n\nHet supportteam"


def test_adding_a_language_is_adding_its_files(app, api, client, frozen, channels, tmp_path, restore_locales):
    """Dutch, from files alone: a strings file (here English's with a few Dutch words) and one template."""
    text = (locales.SHIPPED_DIR / "en.toml").read_text(encoding="utf-8")
    text = text.replace('title = "System status"', 'title = "Systeemstatus"').replace(
        'lang_name = "English"', 'lang_name = "Nederlands"').replace(
        'why = "You are receiving this', 'why = "U ontvangt dit bericht omdat u een getroffen dienst gebruikt. Or:')
    (tmp_path / "nl.toml").write_text(text, encoding="utf-8")
    (tmp_path / "apology.nl.email.subject.txt").write_text(DUTCH_SUBJECT, encoding="utf-8")
    (tmp_path / "apology.nl.email.txt").write_text(DUTCH_BODY, encoding="utf-8")
    assert "nl" not in locales.available()
    locales.configure(default="en", extra_dirs=[tmp_path])
    assert "nl" in locales.available() and T.resolve("apology", "email", "nl-BE")[0] == "nl"
    assert T.resolve("status", "email", "nl-BE")[0] == "en"           # no Dutch status template: English

    page = client.get("/status?lang=nl").get_data(as_text=True)
    assert '<html lang="nl">' in page and "Systeemstatus" in page
    assert 'hreflang="nl"' in client.get("/status?lang=en").get_data(as_text=True)   # offered on the page

    incident = api.post("/api/v1/incidents", json={"title": "Login stuk", "severity": "SEV2",
                                                   "services": ["login"]}).get_json()
    assert api.post("/api/v1/customers", json={"customers": [
        {"email": "daan@example.nl", "locale": "nl-BE", "channels": ["email"], "services": ["login"]},
        {"email": "eva@example.com", "locale": "en", "channels": ["email"], "services": ["login"]}]}).status_code == 200
    assert broadcast(api, incident["id"], channels=["email"]).status_code == 201
    run_worker(app)
    sent = {to: message for to, message in channels["email"].sent}
    assert sent["daan@example.nl"].subject == f"Onze excuses: Login stuk ({incident['reference']})"
    assert sent["daan@example.nl"].headers["Content-Language"] == "nl"
    assert "U ontvangt dit bericht" in sent["daan@example.nl"].text
    assert sent["eva@example.com"].headers["Content-Language"] == "en"

    shutil.rmtree(tmp_path)   # and taking the files away takes the language away
    locales.configure(default="en", extra_dirs=[])
    assert "nl" not in locales.available() and T.resolve("apology", "email", "nl-BE")[0] == "en"
