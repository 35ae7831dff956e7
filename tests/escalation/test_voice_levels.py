"""`voice` in escalation policies: for paging staff only, its fallback channels, and what a call says."""
from __future__ import annotations

import re

import pytest

from incident.escalation import call_script
from incident.escalation.messages import PageFacts
from incident.escalation.policy import CHANNELS, Level, PolicyError, Target, split_at_call

from ..helpers import POLICY, broadcast, declare


def test_a_level_may_page_by_voice_and_the_policy_keeps_the_order(setup):
    policy = {**POLICY, "levels": [{**POLICY["levels"][0], "channels": ["voice", "sms", "slack"]}]}
    response = setup.put("/api/v1/escalation-policies/default", json=policy)
    assert response.status_code == 200, response.get_json()
    assert setup.get("/api/v1/escalation-policies/default").get_json()["levels"][0]["channels"] == [
        "voice", "sms", "slack"]


@pytest.mark.parametrize("channels, problem", [(["voice", "voice"], "a channel is listed twice"),
                                               (["phone"], "unknown channel 'phone'; one of slack, sms, email, voice")])
def test_bad_channel_lists_are_refused(setup, channels, problem):
    policy = {**POLICY, "levels": [{**POLICY["levels"][0], "channels": channels}]}
    response = setup.put("/api/v1/escalation-policies/default", json=policy)
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["levels.0.channels"] == problem


def test_customers_are_never_called(api, setup):
    incident_id = declare(api)["id"]
    response = broadcast(api, incident_id, channels=["voice"])
    assert response.status_code == 422
    assert setup.post("/api/v1/customers", json={"name": "Acme", "phone": "+390612345678",
                                                  "channels": ["voice"]}).status_code == 422


def test_the_simulator_shows_the_call(setup):
    policy = {**POLICY, "levels": [{**POLICY["levels"][0], "channels": ["voice", "sms"]}]}
    setup.put("/api/v1/escalation-policies/default", json=policy)
    response = setup.post("/api/v1/escalation-policies/simulate", json={"severity": "SEV1"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["steps"][0]["channels"] == ["voice", "sms"]


@pytest.mark.parametrize("channels, at_once, held", [
    (("slack", "sms"), ("slack", "sms"), ()),
    (("voice", "sms"), ("voice",), ("sms",)),
    (("slack", "voice", "sms", "email"), ("slack", "voice"), ("sms", "email")),
    (("sms", "voice"), ("sms", "voice"), ()),
])
def test_split_at_call(channels, at_once, held):
    assert split_at_call(channels) == (at_once, held)


def test_voice_is_a_paging_channel():
    assert CHANNELS == ("slack", "sms", "email", "voice")
    Level("L1", (Target(user="amy@example.com"),), 60, ("voice",))
    with pytest.raises(PolicyError):
        Level("L1", (Target(user="amy@example.com"),), 60, ("fax",))


@pytest.mark.parametrize("tags, expected", [
    (("it",), "it"), (("it-IT",), "it"), (("it_CH",), "it"), (("EN-gb",), "en"), ((None, "it"), "it"),
    (("de", "it"), "de"), (("pt-BR", "it"), "it"), (("pt", "ja"), "en"), ((None, None), "en"), (("", " it "), "it"),
])
def test_call_locale_falls_back_from_the_staff_member_to_the_default_to_english(tags, expected):
    assert call_script.call_locale(*tags) == expected


FACTS = PageFacts(incident_id=42, reference="INC-42", severity="SEV1", title="Login failing", summary="",
                  status="investigating", commander=None, level="engineering", url="https://tocsin.test/incidents/42")


def test_what_a_call_says_in_each_language():
    assert call_script.spoken_page(FACTS, "en") == (
        "This is Tocsin. INC-42, severity 1: Login failing. You are paged at level engineering.")
    assert call_script.spoken_page(FACTS, "it") == (
        "Qui Tocsin. INC-42, gravità 1: Login failing. Sei chiamato al livello engineering.")
    assert call_script.spoken_page(FACTS, call_script.call_locale("de-CH")).startswith("Hier ist Tocsin. INC-42")
    assert call_script.call_locale("pt-BR", "fr") == "fr" and call_script.call_locale("pt-BR", None) == "en"
    assert set(call_script.SAY_LANGUAGE) == set(call_script.LINES) == {"en", "it", "fr", "de", "es"}
    for language, lines in call_script.LINES.items():   # every sentence in every language, the same placeholders
        assert set(lines) == set(call_script.LINES["en"]), language
        for key, text in lines.items():
            assert set(re.findall(r"{(\w+)}", text)) == set(re.findall(r"{(\w+)}", call_script.LINES["en"][key]))


def test_a_long_title_is_cut_when_read_aloud():
    spoken = call_script.spoken_page(PageFacts(**{**FACTS.__dict__, "title": "x" * 500}), "en")
    assert "x" * 199 + "…" in spoken and "x" * 200 not in spoken
