"""Broadcasts that ask for it carry the incident's workaround, on every channel and in every language,
only when there is one; those that do not, never; and nothing internal ever reaches a customer."""
from __future__ import annotations

import json

import pytest

from incident import clock

from ..helpers import broadcast, logged_in, run_worker
from ..web_helpers import post_compose, preview
from .support import INTERNAL, RECORD, put

WORKAROUND = RECORD["workaround"]
LABELS = {"en": "What you can do meanwhile", "it": "Cosa potete fare nel frattempo"}


def sent(channels) -> dict[str, object]:
    """{recipient: message} of everything the sandbox channels got."""
    return {to: message for channel in channels.values() for to, message in channel.sent}


def whole(message) -> str:
    """Every part of a message a customer can see."""
    return "\n".join([message.subject or "", message.text or "", message.html or "",
                      json.dumps(message.blocks or [], ensure_ascii=False)])


def test_a_broadcast_that_asks_carries_the_workaround_on_every_channel_in_every_language(app, api, crowd, channels):
    incident, _ = crowd
    put(api, incident["id"])
    response = broadcast(api, incident["id"], include_workaround=True)
    assert response.status_code == 201 and response.get_json()["include_workaround"] is True
    run_worker(app)
    by_to = sent(channels)
    assert set(by_to) == {"ada@example.com", "+393471000002", "C0ACME", "carla@example.com", "+393471000005"}
    for to, message in by_to.items():
        assert WORKAROUND in message.text, to
        assert not any(secret in whole(message) for secret in INTERNAL), to
    assert WORKAROUND in by_to["ada@example.com"].html and LABELS["en"] in by_to["ada@example.com"].text
    assert LABELS["it"] in by_to["carla@example.com"].text and WORKAROUND in by_to["carla@example.com"].html
    assert "Nel frattempo: " + WORKAROUND in by_to["+393471000002"].text          # Bruno's Italian SMS
    assert "Meanwhile: " + WORKAROUND in by_to["+393471000005"].text              # Dev's English SMS
    assert any(WORKAROUND in block.get("text", {}).get("text", "") for block in by_to["C0ACME"].blocks)


def test_a_broadcast_that_does_not_ask_never_carries_it(app, api, crowd, channels):
    incident, _ = crowd
    put(api, incident["id"])
    response = broadcast(api, incident["id"])
    assert response.status_code == 201 and response.get_json()["include_workaround"] is False
    run_worker(app)
    messages = sent(channels).values()
    assert len(messages) == 5
    for message in messages:
        text = whole(message)
        assert WORKAROUND not in text and LABELS["en"] not in text and "Meanwhile" not in text
        assert not any(secret in text for secret in INTERNAL)


def test_asking_when_there_is_no_workaround_adds_nothing(app, api, crowd, channels):
    incident, _ = crowd
    put(api, incident["id"], workaround="")                  # internal fields only
    assert broadcast(api, incident["id"], include_workaround=True).status_code == 201
    run_worker(app)
    for message in sent(channels).values():
        text = whole(message)
        assert "meanwhile" not in text.lower() and "nel frattempo" not in text.lower()
        assert not any(secret in text for secret in INTERNAL)


def test_a_recurring_update_carries_the_workaround_as_it_is_at_each_send(app, api, crowd, channels):
    incident, _ = crowd
    response = broadcast(api, incident["id"], kind="status", channels=["email"], repeat_every_minutes=30,
                         include_workaround=True)
    assert response.status_code == 201
    run_worker(app)
    assert not any("meanwhile" in m.text.lower() for _, m in channels["email"].sent)   # none yet
    put(api, incident["id"], workaround="Export from the API instead.")
    clock.advance(minutes=31)
    run_worker(app)
    latest = [m for _, m in channels["email"].sent][-3:]
    assert all("Export from the API instead." in m.text for m in latest)


def test_the_preview_shows_it_in_each_channel_and_locale_only_when_asked(api, crowd):
    incident, _ = crowd
    put(api, incident["id"])
    body = {"kind": "status", "channels": ["email", "sms", "slack"], "audience": {"service_subscribers": True}}
    path = f"/api/v1/incidents/{incident['id']}/broadcasts/preview"
    asked = api.post(path, json={**body, "include_workaround": True}).get_json()["messages"]
    for channel in ("email", "sms", "slack"):
        for locale in ("en", "it"):
            cell = asked[channel][locale]
            assert WORKAROUND in cell["text"], (channel, locale)
            assert not any(secret in json.dumps(cell) for secret in INTERNAL)
    assert LABELS["it"] in asked["slack"]["it"]["text"] and LABELS["en"] in asked["email"]["en"]["text"]
    plain = api.post(path, json=body).get_json()["messages"]
    assert not any(WORKAROUND in json.dumps(plain[channel]) for channel in plain)


def test_a_resolution_words_it_as_what_to_do_if_the_problem_is_still_there(api, crowd):
    incident, _ = crowd
    put(api, incident["id"])
    api.post(f"/api/v1/incidents/{incident['id']}/updates", json={"status": "resolved", "message": "Fixed"})
    cells = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts/preview", json={
        "kind": "resolution", "channels": ["email", "sms"], "audience": {"service_subscribers": True},
        "include_workaround": True}).get_json()["messages"]
    assert "If you still see the problem: " + WORKAROUND in cells["email"]["en"]["text"]
    assert "Se notate ancora il problema: " + WORKAROUND in cells["email"]["it"]["text"]
    assert "If you still see it: " + WORKAROUND in cells["sms"]["en"]["text"]


def test_the_workaround_is_escaped_in_email_html_and_slack(api, crowd):
    incident, _ = crowd
    put(api, incident["id"], workaround="Use <b>the app</b> & never <!channel>")
    cells = api.post(f"/api/v1/incidents/{incident['id']}/broadcasts/preview", json={
        "kind": "apology", "channels": ["email", "slack"], "audience": {"service_subscribers": True},
        "include_workaround": True}).get_json()["messages"]
    html = cells["email"]["en"]["html"]
    assert "<b>the app</b>" not in html and "Use &lt;b&gt;the app&lt;/b&gt; &amp; never &lt;!channel&gt;" in html
    assert "<!channel>" not in json.dumps(cells["slack"]["en"]["blocks"])
    assert "&lt;!channel&gt;" in json.dumps(cells["slack"]["en"]["blocks"])


def test_edit_turns_it_on_and_bad_values_are_refused(api, crowd):
    incident, _ = crowd
    put(api, incident["id"])
    created = broadcast(api, incident["id"], send_at="2026-11-22T12:00:00+00:00").get_json()
    edited = api.patch(f"/api/v1/broadcasts/{created['id']}", json={"include_workaround": True})
    assert edited.status_code == 200 and edited.get_json()["include_workaround"] is True
    for bad in ("yes please", 3, [True]):
        response = api.patch(f"/api/v1/broadcasts/{created['id']}", json={"include_workaround": bad})
        assert response.status_code == 422, bad
    refused = broadcast(api, incident["id"], include_workaround="sometimes")
    assert refused.status_code == 422 and "include_workaround" in refused.get_json()["error"]["details"]
    assert api.get(f"/api/v1/broadcasts/{created['id']}").get_json()["include_workaround"] is True


@pytest.mark.parametrize("ask", [True, False])
def test_the_compose_form_offers_it_and_schedules_what_was_ticked(app, client, make_user, api, crowd, ask):
    incident, _ = crowd
    logged_in(client, make_user)
    compose = client.get(f"/incidents/{incident['id']}/broadcasts/new").get_data(as_text=True)
    assert 'name="include_workaround"' in compose and "none yet" in compose
    put(api, incident["id"])
    compose = client.get(f"/incidents/{incident['id']}/broadcasts/new").get_data(as_text=True)
    assert WORKAROUND[:40] in compose and "none yet" not in compose
    shown = preview(client, incident["id"], **({"include_workaround": "on"} if ask else {})).get_data(as_text=True)
    assert (WORKAROUND in shown) is ask
    response = post_compose(client, incident["id"], **({"include_workaround": "on"} if ask else {}))
    assert response.status_code == 302
    [created] = api.get(f"/api/v1/incidents/{incident['id']}/broadcasts").get_json()
    assert created["include_workaround"] is ask
