"""Customer message templates: shipped wording, sandbox, escaping, SMS counting, personalizing."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from incident.broadcast import templates as T
from incident.broadcast.gsm import non_gsm7, sms_info
from incident.broadcast.wording import format_when, next_update_phrase, slack_link
from incident.errors import ValidationFailed

from ..helpers import logged_in
from ..web_helpers import post_form

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)
NEXT = datetime(2026, 11, 22, 10, 30, tzinfo=timezone.utc)
UNSUB = "https://tocsin.test/unsubscribe/abc?x=1&y=2"


def context(locale="en", **changes):
    base = {
        "incident": {"reference": "INC-42", "title": "Login failing for some customers",
                     "status": "investigating", "severity": "SEV2", "services": ["login", "payments"],
                     "summary": "Some sign-ins fail with an error."},
        "kind": "apology", "message": "", "status_page_url": "https://status.example.com/",
        "next_update_at": NEXT, "now": NOW, "locale": locale,
    }
    base.update(changes)
    return base


def send_copy(kind, channel, locale, ctx, *, name="Acme Srl", url=UNSUB, overrides=None):
    """What one customer gets: rendered once with the sentinels, then personalized."""
    message = T.render(kind, channel, locale, ctx, overrides=overrides)
    return message, T.personalize(message, name=name, unsubscribe_url=url)


def all_text(message) -> str:
    import json

    return "\n".join([message.text, message.subject, message.html or "", json.dumps(message.blocks or [])])


# --- every shipped template -------------------------------------------------------------

VARIANTS = {
    "full": {"message": "We moved traffic to the backup site."},
    "bare": {"message": "", "next_update_at": None},
    "no_services": {"incident": {"reference": "INC-7", "title": "Slow pages", "status": "monitoring",
                                 "severity": "SEV3", "services": [], "summary": ""}, "status_page_url": ""},
    "one_service": {"incident": {"reference": "INC-8", "title": "API errors", "status": "identified",
                                 "severity": "SEV1", "services": ["api"], "summary": "Errors on writes"}},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("channel", T.CHANNELS)
@pytest.mark.parametrize("locale", T.languages())
@pytest.mark.parametrize("kind", T.KINDS)
def test_every_shipped_template_renders(kind, locale, channel, variant):
    assert T.shipped(kind, channel, locale) is not None
    ctx = context(locale, kind=kind, **VARIANTS[variant])
    raw, message = send_copy(kind, channel, locale, ctx)
    assert T.NAME_SENTINEL not in all_text(message) and T.UNSUBSCRIBE_SENTINEL not in all_text(message)
    assert "None" not in all_text(message) and "{{" not in all_text(message) and "{%" not in all_text(message)
    assert "  " not in message.text.replace("\n", "")
    assert ctx["incident"]["reference"] in all_text(message)
    if ctx["message"]:
        assert ctx["message"] in message.text
    if ctx["next_update_at"] and kind != "resolution":
        assert "10:30 UTC" in message.text
    if channel == "email":
        assert message.subject and "\n" not in message.subject
        assert message.html.startswith("<!DOCTYPE html>") and f'lang="{locale}"' in message.html
        assert "Acme Srl" in message.text and "Acme Srl" in message.html
        assert message.headers["List-Unsubscribe"] == f"<{UNSUB}>"
        assert UNSUB in message.text and UNSUB.replace("&", "&amp;") in message.html
        assert T.UNSUBSCRIBE_SENTINEL in raw.html and T.NAME_SENTINEL in raw.text
    elif channel == "slack":
        assert message.blocks[0]["type"] == "header"
        assert all(b["type"] in {"header", "section", "actions", "context"} for b in message.blocks)
        assert any(b["type"] == "actions" for b in message.blocks) == bool(ctx["status_page_url"])
        assert "Acme Srl" in message.blocks[1]["text"]["text"]
    else:
        assert "\n" not in message.text and message.subject == "" and message.html is None
        assert sms_info(message.text)["encoding"] == "GSM-7", non_gsm7(message.text)


@pytest.mark.parametrize("locale", T.languages())
@pytest.mark.parametrize("kind", T.KINDS)
def test_typical_sms_fits_one_gsm7_segment(kind, locale):
    message = T.render(kind, "sms", locale, context(locale, kind=kind))
    info = sms_info(message.text)
    assert info == {"characters": len(message.text), "encoding": "GSM-7", "units": len(message.text),
                    "segments": 1}, message.text


def test_italian_reads_italian_and_wording_follows_the_status():
    _, apology = send_copy("apology", "email", "it", context("it", incident={
        **context()["incident"], "status": "identified"}))
    assert apology.text.startswith("Buongiorno Acme Srl,\n\nvi chiediamo scusa.")
    assert "login e payments" in apology.text and "hanno individuato la causa" in apology.text
    assert "vi scriveremo di nuovo entro le 10:30 UTC" in apology.text
    assert "https://status.example.com/" in apology.text
    _, resolved = send_copy("resolution", "sms", "it", context("it", incident={
        **context()["incident"], "services": ["api"], "status": "resolved"}))
    assert resolved.text.startswith("Risolto: api funziona di nuovo regolarmente (INC-42).")


def test_next_update_shows_the_date_when_not_today():
    tomorrow = NOW + timedelta(days=1, hours=1, minutes=30)
    assert format_when(NEXT, "en", now=NOW) == "10:30 UTC"
    assert format_when(tomorrow, "en", now=NOW) == "23 Nov 10:30 UTC"
    assert next_update_phrase(tomorrow, "it", now=NOW) == "entro le 10:30 UTC del 23 novembre"
    assert next_update_phrase(NEXT.astimezone(timezone(timedelta(hours=1))), "it", now=NOW) == "entro le 10:30 UTC"
    message = T.render("status", "sms", "en", context(next_update_at=tomorrow))
    assert "Next update by 23 Nov 10:30 UTC." in message.text


# --- customer text is data ----------------------------------------------------------------

HOSTILE = "<script>alert(1)</script> {{ 7*7 }} {% raw %} Q&A <!channel> \ue000name\ue001 [[x]]"


@pytest.mark.parametrize("channel", T.CHANNELS)
def test_customer_text_is_shown_never_run(channel):
    ctx = context(message=HOSTILE, incident={**context()["incident"], "title": HOSTILE, "summary": HOSTILE})
    _, message = send_copy("apology", channel, "en", ctx, name="<b>Ben & Jerry's</b>")
    literal = "<script>alert(1)</script> {{ 7*7 }} {% raw %} Q&A <!channel> name [[x]]"
    assert "49" not in all_text(message)
    if channel == "email":
        assert literal in message.text and "<b>Ben & Jerry's</b>" in message.text
        assert "<script>" not in message.html and "<b>Ben" not in message.html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} {% raw %} Q&amp;A &lt;!channel&gt;" in message.html
        assert "&lt;b&gt;Ben &amp; Jerry&#39;s&lt;/b&gt;" in message.html
    elif channel == "slack":
        sections = " ".join(b["text"]["text"] for b in message.blocks if b["type"] == "section")
        assert "<!channel>" not in sections and "<script>" not in message.text
        assert "&lt;!channel&gt;" in sections and "Q&amp;A" in sections
        assert "&lt;b&gt;Ben &amp; Jerry's&lt;/b&gt;" in sections
    else:
        assert literal in message.text and "Ben" not in message.text   # no name in an SMS
    # the sentinel-like text in the message was not turned into the customer's name
    assert "Ben" not in all_text(message).split("name [[x]]")[0].split("{{ 7*7 }}")[-1]


def test_personalize_escapes_per_part_and_sets_unsubscribe_headers():
    raw = T.render("status", "email", "en", context())
    assert raw.headers["List-Unsubscribe"] == f"<{T.UNSUBSCRIBE_SENTINEL}>"
    mine = T.personalize(raw, name="Rossi & Figli", unsubscribe_url=UNSUB)
    assert mine.headers == {"Content-Language": "en", "List-Unsubscribe": f"<{UNSUB}>",
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert "Hello Rossi & Figli," in mine.text and "Hello Rossi &amp; Figli," in mine.html
    assert f'href="{UNSUB.replace("&", "&amp;")}"' in mine.html
    assert raw.headers["List-Unsubscribe"] == f"<{T.UNSUBSCRIBE_SENTINEL}>"  # the stored copy is untouched
    nameless = T.personalize(raw, name="  ", unsubscribe_url="")
    assert "Hello," in nameless.text and "Hello ," not in nameless.text
    assert "List-Unsubscribe" not in nameless.headers and T.UNSUBSCRIBE_SENTINEL not in nameless.html
    slack = T.personalize(T.render("status", "slack", "it", context("it")), name="A<b>", unsubscribe_url=UNSUB)
    assert "Buongiorno A&lt;b&gt;," in slack.blocks[1]["text"]["text"] and "A&lt;b&gt;" in slack.text
    sms = T.personalize(T.render("status", "sms", "en", context()), name="X", unsubscribe_url=UNSUB)
    assert sms.headers == {}


def test_a_missing_name_leaves_no_stray_comma_in_any_language():
    for locale in ("en", "it", "fr", "de", "es"):
        for channel in ("email", "slack"):
            raw = T.render("apology", channel, locale, context(locale))
            named = T.personalize(raw, name="Ana", unsubscribe_url=UNSUB).text
            nameless = T.personalize(raw, name="", unsubscribe_url=UNSUB).text
            assert ",:" not in nameless and " ," not in nameless and "\n," not in nameless, (locale, channel)
            assert "Ana" in named and "Ana" not in nameless
    spanish = T.render("apology", "email", "es", context("es"))
    assert T.personalize(spanish, name="Ana", unsubscribe_url=UNSUB).text.startswith("Hola, Ana:")
    assert T.personalize(spanish, name="", unsubscribe_url=UNSUB).text.startswith("Hola:")


def test_the_name_sentinel_survives_upper_and_escaping():
    overrides = {("status", "email", "en"): ("Hi {{ customer_name|upper }}", "Dear {{ customer_name|upper }}.")}
    message = T.personalize(T.render("status", "email", "en", context(), overrides=overrides),
                            name="Acme", unsubscribe_url=UNSUB)
    assert message.subject == "Hi Acme" and message.text.startswith("Dear Acme.")


# --- the sandbox --------------------------------------------------------------------------

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ incident.__init__ }}",
    "{{ incident.__class__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'] }}",
    "{{ message.format.__globals__ }}",
    "{% set _ = incident.services.append('x') %}x",
    "{{ incident.update({'title': 'owned'}) }}",
    "{{ 'a' * 1000000 }}",
    "{{ 9 ** 999999 }}",
    "{% for i in range(1000000) %}{% endfor %}",
    "{% for i in range(9000) %}{% for j in range(9000) %}{% endfor %}{% endfor %}",  # 81 million turns
    "{% for i in range(9000) %}{{ 'x' * 90000 }}{% endfor %}",                        # 810 MB of text
]


@pytest.mark.parametrize("source", ESCAPES)
def test_sandbox_refuses_reaching_into_python(source):
    with pytest.raises(ValidationFailed) as caught:
        T.validate_template("status", "sms", "en", "", source)
    assert caught.value.code == "template_invalid"
    assert "status.en.sms body" in caught.value.message


def test_a_render_stops_at_its_size_and_loop_budgets():
    with pytest.raises(ValidationFailed, match="at most 10,000 numbers"):
        T.validate_template("status", "sms", "en", "",
                            "{% for i in range(200) %}{% for j in range(200) %}.{% endfor %}{% endfor %}")
    with pytest.raises(ValidationFailed, match="more than 200,000 characters"):
        T.validate_template("status", "email", "en", "S", "{% for i in range(50) %}{{ 'x' * 5000 }}{% endfor %}")
    # what real templates do is well inside both, and every render gets a fresh budget
    for _ in range(3):
        T.validate_template("status", "email", "en", "S", "{% for i in range(5000) %}{{ i }}{% endfor %}")


def test_a_typo_is_an_error_with_its_line():
    body = "Hello {{ customer_name }},\n\nWe are looking at {{ incident.titel }}.\n"
    with pytest.raises(ValidationFailed) as caught:
        T.validate_template("apology", "email", "it", "Subject", body)
    assert caught.value.details["line"] == 3 and caught.value.details["part"] == "body"
    assert "line 3" in caught.value.message and "titel" in caught.value.message
    with pytest.raises(ValidationFailed) as caught:
        T.validate_template("apology", "email", "en", "Sorry {{ incident.reference ", "body")
    assert caught.value.details["part"] == "subject" and caught.value.details["line"] == 1
    with pytest.raises(ValidationFailed) as caught:
        T.validate_template("apology", "slack", "en", "Sorry", "a\n{% if message %}\nno end")
    assert caught.value.details["line"] == 2 and "endif" in caught.value.message


def test_a_branch_only_some_contexts_take_is_tried_too():
    body = "{% if next_update %}ok{% else %}{{ nope }}{% endif %}"
    with pytest.raises(ValidationFailed, match="'nope' is undefined"):
        T.validate_template("status", "sms", "en", "", body)


def test_validation_wants_a_subject_and_a_body():
    with pytest.raises(ValidationFailed, match="needs a subject"):
        T.validate_template("status", "email", "en", " ", "Hello")
    with pytest.raises(ValidationFailed, match="empty"):
        T.validate_template("status", "sms", "en", "", "  ")
    with pytest.raises(ValidationFailed, match="empty message"):
        T.validate_template("status", "sms", "en", "", "{{ '' }}")
    with pytest.raises(ValidationFailed, match="Unknown message kind"):
        T.validate_template("teaser", "sms", "en", "", "x")


def test_a_failing_template_at_send_time_is_a_clear_error():
    overrides = {("apology", "sms", "en"): ("", "{{ incident.services[5].upper() }}")}
    with pytest.raises(ValidationFailed, match=r"apology\.en\.sms body, line 1"):
        T.render("apology", "sms", "en", context(), overrides=overrides)


# --- SMS counting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, encoding, units, segments",
    [
        ("", "GSM-7", 0, 0),
        ("Hello", "GSM-7", 5, 1),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),
        ("€" * 81, "GSM-7", 162, 2),
        ("{}[]~^|\\", "GSM-7", 16, 1),
        ("a" * 152 + "€" + "a" * 152, "GSM-7", 306, 3),  # an escape pair never straddles two parts
        ("àèéìòù ÄÖÑÜäöñü ÉÇ £¥§¿¡ ΔΦΓΛΩΠΨΣΘΞ", "GSM-7", 35, 1),
        ("È", "UCS-2", 1, 1),  # only É is in the table, not È
        ("ç", "UCS-2", 1, 1),  # only Ç is
        ("l’app", "UCS-2", 5, 1),  # a curly apostrophe
        ("😀", "UCS-2", 2, 1),
        ("È" * 70, "UCS-2", 70, 1),
        ("È" * 71, "UCS-2", 71, 2),
        ("È" * 134, "UCS-2", 134, 2),
        ("È" * 135, "UCS-2", 135, 3),
        ("a" * 66 + "😀" + "a" * 66, "UCS-2", 134, 3),  # a surrogate pair is never split
    ],
)
def test_sms_info(text, encoding, units, segments):
    info = sms_info(text)
    assert (info["encoding"], info["units"], info["segments"]) == (encoding, units, segments)
    assert info["characters"] == len(text)
    assert T.sms_info is sms_info


# --- locales, overrides, preview ----------------------------------------------------------


def test_a_language_without_templates_falls_back_along_its_chain():
    english = T.render("apology", "email", "en", context())
    assert T.render("apology", "email", "nl", context("nl")) == english          # no Dutch: English
    assert T.render("apology", "email", "pt-BR", context("pt-BR")) == english
    assert T.render("apology", "email", "it-IT", context()).subject.startswith("Vi chiediamo scusa")
    assert T.resolve("status", "slack", "de_CH")[0] == "de"                    # de-CH -> de
    assert T.resolve("status", "slack", "fr-CA")[0] == "fr"
    assert T.resolve("status", "slack", "not a tag")[0] == "en"
    french = T.render("apology", "email", "fr-BE", context("fr-BE"))
    assert french.subject.startswith("Toutes nos excuses") and french.headers["Content-Language"] == "fr"
    assert 'lang="fr"' in french.html and "Vous recevez ce message" in french.text


def test_overrides_replace_the_shipped_wording_per_locale():
    overrides = {("status", "sms", "fr"): ("", "Mise à jour {{ incident.reference }}: {{ status_label }}")}
    assert T.render("status", "sms", "fr", context("fr"), overrides=overrides).text == "Mise à jour INC-42: analyse en cours"
    assert T.render("status", "sms", "it", context(), overrides=overrides).text.startswith("Aggiornamento")


def test_preview_shows_each_channel_and_locale_as_the_customer_gets_it():
    overrides = {("apology", "slack", "it"): ("x", "{{ broken")}
    ctx = context(customer_name="Acme Srl", unsubscribe_url=UNSUB)
    result = T.preview("apology", ["email", "sms", "slack"], ["en", "it", "nl"], ctx, overrides)
    assert set(result) == {"email", "sms", "slack"} and set(result["sms"]) == {"en", "it", "nl"}
    email = result["email"]["it"]
    assert email["error"] is None and email["subject"].startswith("Vi chiediamo scusa")
    assert "Buongiorno Acme Srl," in email["text"] and "<p" in email["html"]
    assert email["headers"]["List-Unsubscribe"] == f"<{UNSUB}>"
    assert result["sms"]["en"]["sms"]["segments"] == 1
    assert result["sms"]["nl"]["locale_used"] == "en"
    assert result["slack"]["en"]["blocks"][0]["type"] == "header"
    broken = result["slack"]["it"]
    assert broken["error"].startswith("The template apology.it.slack body, line 1") and "blocks" not in broken


def test_slack_link_cannot_be_broken_out_of():
    assert (
        slack_link("https://x.test/a|b>c", "Status <page> | now") == "<https://x.test/a%7Cb%3Ec|Status &lt;page&gt; ¦ now>"
    )


# --- staff edits in the database ----------------------------------------------------------


@pytest.fixture
def lead(app, ctx, make_user):
    from incident.auth.models import User
    from incident.extensions import db

    user_id, _ = make_user(role="lead")
    return db.session.get(User, user_id)


def test_save_load_and_reset_a_template(ctx, lead):
    body = "Aggiornamento {{ incident.reference }}: {{ status_label }}. {{ status_page_url }}"
    saved = T.save_template("status", "sms", "it-IT", "ignored", body, lead)
    assert saved["edited"] and saved["body"] == body and saved["subject"] == ""
    assert T.load_overrides() == {("status", "sms", "it"): ("", body)}
    rendered = T.render("status", "sms", "it", context("it"), overrides=T.load_overrides())
    assert rendered.text == "Aggiornamento INC-42: analisi in corso. https://status.example.com/"
    T.save_template("status", "sms", "it", "", body + " Grazie.", lead)
    assert T.load_overrides()[("status", "sms", "it")][1].endswith("Grazie.")
    reset = T.reset_template("status", "sms", "it", lead)
    assert not reset["edited"] and reset["body"] == T.shipped("status", "sms", "it")[1]
    assert T.load_overrides() == {}


def test_a_bad_edit_is_refused_and_writes_nothing(ctx, lead):
    T.save_template("apology", "email", "en", "Sorry", "Hello {{ customer_name }}", lead)
    with pytest.raises(ValidationFailed, match="line 2"):
        T.save_template("apology", "email", "en", "Sorry", "Hello\n{{ incident.__class__ }}", lead)
    with pytest.raises(ValidationFailed, match="Unknown locale"):
        T.save_template("apology", "email", "english", "Sorry", "Hello", lead)
    assert T.load_overrides() == {("apology", "email", "en"): ("Sorry", "Hello {{ customer_name }}")}


def test_saving_the_shipped_wording_removes_the_edit(ctx, lead):
    subject, body = T.shipped("resolution", "slack", "it")
    T.save_template("resolution", "slack", "it", "Altro", body, lead)
    assert T.get_template("resolution", "slack", "it")["edited"]
    T.save_template("resolution", "slack", "it", subject, body.replace("\n", "\r\n"), lead)
    assert T.load_overrides() == {} and not T.get_template("resolution", "slack", "it")["edited"]


# --- the staff page -----------------------------------------------------------------------


def test_templates_page_edits_previews_and_resets(app, client, make_user):

    logged_in(client, make_user, role="lead")
    index = client.get("/templates").get_data(as_text=True)
    assert 'data-key="apology.sms.it"' in index and "edited" not in index.split("<table")[1]
    path = "/templates/status/sms/it"
    page = client.get(path).get_data(as_text=True)
    assert "Aggiornamento INC-42 (login e payments): causa individuata." in page
    assert 'id="sms-info">' in page and "GSM-7 · 1 segment" in page

    draft = "Agg. {{ incident.reference }} <b>{{ message }}</b>\n{{ incident.titel }}"
    response = post_form(client, path, {"action": "preview", "body": draft}, page=path)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "line 2" in page and "titel" in page
    assert "&lt;b&gt;{{ message }}&lt;/b&gt;" in page  # the draft is shown back, escaped
    response = post_form(client, path, {"action": "save", "body": draft}, page=path)
    assert response.status_code == 422
    with app.app_context():
        assert T.load_overrides() == {}

    response = post_form(client, path, {"action": "save", "body": "Agg. {{ incident.reference }} ✓"}, page=path)
    assert response.status_code == 302
    page = client.get(path).get_data(as_text=True)
    assert "Agg. INC-42 ✓" in page and "UCS-2 · 1 segment" in page and "Reset to shipped" in page
    assert "edited" in client.get("/templates").get_data(as_text=True)
    post_form(client, path, {"action": "reset"}, page=path)
    with app.app_context():
        assert T.load_overrides() == {}

    email = client.get("/templates/apology/email/en").get_data(as_text=True)
    assert '<iframe sandbox title="HTML part"' in email and 'srcdoc="&lt;!DOCTYPE html&gt;' in email
    assert client.get("/templates/teaser/sms/en").status_code == 404


def test_templates_page_needs_a_lead(client, make_user):

    logged_in(client, make_user, role="agent", email="agent@example.com")
    assert client.get("/templates").status_code == 403
