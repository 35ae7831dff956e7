"""Customers API: bulk upsert on external_id (else email), validation that writes nothing, list, read, edit."""
from __future__ import annotations

import pytest

from incident.customers.policy import normalize_locale
from incident.customers.service import opt_in, opt_out

from ..conftest import count_rows

TABLES = ("customers", "customer_services", "services")
ACME = {"external_id": "C-77", "name": "Acme Srl", "email": "Ops@Acme.example", "phone": "+39 06 1234 5678",
        "slack_channel": "C0ACME", "locale": "it-IT", "segment": "Enterprise",
        "channels": ["slack", "email"], "services": ["login", "api"]}


def upsert(api, body, status=200):
    response = api.post("/api/v1/customers", json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


def customer(api, customer_id):
    response = api.get(f"/api/v1/customers/{customer_id}")
    assert response.status_code == 200
    return response.get_json()


@pytest.fixture
def agent(api_as):
    return api_as("agent", "agent@example.com")


def test_one_customer_is_created_normalised(agent):
    result = upsert(agent, ACME)
    assert {k: result[k] for k in ("created", "updated", "unchanged")} == {"created": 1, "updated": 0, "unchanged": 0}
    body = customer(agent, result["ids"][0])
    assert body["external_id"] == "C-77" and body["name"] == "Acme Srl"
    assert (body["email"], body["phone"], body["locale"], body["segment"]) == (
        "ops@acme.example", "+390612345678", "it-IT", "enterprise")
    assert body["channels"] == ["slack", "email"] and body["services"] == ["api", "login"]
    assert body["opted_out"] == []


def test_sending_the_same_customer_again_changes_nothing_and_a_change_updates(agent):
    first = upsert(agent, ACME)
    again = upsert(agent, ACME)
    assert (again["created"], again["updated"], again["unchanged"], again["ids"]) == (0, 0, 1, first["ids"])
    before = customer(agent, first["ids"][0])["updated_at"]
    changed = upsert(agent, {"external_id": "C-77", "segment": "smb"})
    assert (changed["created"], changed["updated"], changed["unchanged"]) == (0, 1, 0)
    body = customer(agent, first["ids"][0])
    assert body["segment"] == "smb"
    # fields left out keep their stored value
    assert (body["email"], body["locale"], body["channels"], body["services"]) == (
        "ops@acme.example", "it-IT", ["slack", "email"], ["api", "login"])
    assert body["updated_at"] >= before


def test_found_by_email_when_there_is_no_external_id(app, agent):
    upsert(agent, {"email": "mara@example.com", "name": "Mara"})
    result = upsert(agent, {"external_id": "C-1", "email": "MARA@example.com", "phone": "+393471234567",
                            "channels": ["sms", "email"]})
    assert (result["created"], result["updated"]) == (0, 1)
    body = customer(agent, result["ids"][0])
    assert (body["external_id"], body["name"], body["channels"]) == ("C-1", "Mara", ["sms", "email"])
    assert count_rows(app, "customers")["customers"] == 1


def test_a_ticket_requester_becomes_the_crm_customer(app, agent):
    ticket = {"external_id": "ZD-1", "source": "zendesk", "requester": {"name": "Bo", "email": "bo@example.com"}}
    assert agent.post("/api/v1/tickets", json=ticket).status_code == 200
    result = upsert(agent, {"external_id": "CRM-9", "email": "bo@example.com", "segment": "enterprise"})
    assert (result["created"], result["updated"]) == (0, 1)
    tickets = agent.get("/api/v1/tickets").get_json()["items"]
    assert tickets[0]["customer_id"] == result["ids"][0]


def test_default_channels_are_the_addresses_given(agent):
    result = upsert(agent, {"customers": [{"email": "a@example.com", "phone": "+393471234567"},
                                          {"external_id": "S-1", "slack_channel": "#acme-ops"}]})
    assert [customer(agent, i)["channels"] for i in result["ids"]] == [["email", "sms"], ["slack"]]


@pytest.mark.parametrize("bad, field", [
    ({"email": "not-an-email"}, "email"),
    ({"external_id": "C-1", "phone": "12"}, "phone"),
    ({"external_id": "C-1", "locale": "xx"}, "locale"),
    ({"external_id": "C-1", "email": "a@example.com", "channels": ["email", "email"]}, "channels"),
    ({"external_id": "C-1", "email": "a@example.com", "channels": ["fax"]}, "channels"),
    ({"external_id": "C-1", "slack_channel": "not a channel"}, "slack_channel"),
    ({"external_id": "C-1", "services": ["Bad Name!"]}, "services.0"),
    ({"external_id": "C-1", "opted_out": ["sms"]}, "opted_out"),
    ({"name": "nobody to find"}, "body"),
])
def test_a_batch_with_one_bad_item_is_refused_whole(app, agent, bad, field):
    upsert(agent, {"external_id": "C-0", "email": "zero@example.com"})
    before = count_rows(app, *TABLES)
    body = upsert(agent, {"customers": [{"external_id": "C-2", "email": "two@example.com", "services": ["new"]},
                                        bad]}, status=422)
    assert body["error"]["code"] == "validation_error"
    assert "nothing was written" in body["error"]["message"]
    assert [(p["index"], p["field"]) for p in body["error"]["details"]["items"]] == [(1, field)]
    assert count_rows(app, *TABLES) == before


def test_a_channel_without_its_address_is_refused(app, agent):
    upsert(agent, {"external_id": "C-1", "email": "c1@example.com", "phone": "+393471234567",
                   "channels": ["sms", "email"]})
    before = count_rows(app, *TABLES)
    body = upsert(agent, {"customers": [{"external_id": "C-2", "email": "c2@example.com"},
                                        {"external_id": "C-3", "email": "c3@example.com", "channels": ["sms"]},
                                        {"external_id": "C-1", "phone": None}]}, status=422)
    assert body["error"]["details"]["items"] == [
        {"index": 1, "field": "channels", "message": "sms needs phone"},
        {"index": 2, "field": "channels", "message": "sms needs phone"}]
    assert count_rows(app, *TABLES) == before
    assert agent.get("/api/v1/customers?email=c1@example.com").get_json()["items"][0]["phone"] == "+393471234567"


def test_an_email_belonging_to_another_customer_is_a_conflict_that_writes_nothing(app, agent):
    upsert(agent, {"customers": [{"external_id": "C-1", "email": "one@example.com"},
                                 {"external_id": "C-2", "email": "two@example.com"}]})
    before = count_rows(app, *TABLES)
    body = upsert(agent, {"customers": [{"external_id": "C-3", "email": "one@example.com"},
                                        {"external_id": "C-2", "email": "one@example.com"},
                                        {"external_id": "C-4", "email": "four@example.com"}]}, status=422)
    assert [(p["index"], p["field"]) for p in body["error"]["details"]["items"]] == [(0, "email"), (1, "email")]
    assert "external_id C-1" in body["error"]["details"]["items"][0]["message"]
    assert count_rows(app, *TABLES) == before


def test_the_same_customer_twice_in_a_batch_applies_in_order(agent):
    result = upsert(agent, {"customers": [{"external_id": "C-1", "name": "Old", "email": "c@example.com"},
                                          {"external_id": "C-1", "name": "New", "segment": "smb"},
                                          {"email": "c@example.com", "locale": "it"}]})
    assert (result["created"], result["updated"], result["unchanged"]) == (1, 0, 0)
    assert len(set(result["ids"])) == 1
    body = customer(agent, result["ids"][0])
    assert (body["name"], body["segment"], body["locale"], body["email"]) == ("New", "smb", "it", "c@example.com")


def test_services_are_created_replaced_kept_and_cleared(app, agent):
    customer_id = upsert(agent, {"external_id": "C-1", "email": "c@example.com", "services": ["login"]})["ids"][0]
    assert count_rows(app, "services")["services"] == 1
    upsert(agent, {"external_id": "C-1", "services": ["billing", "api", "billing"]})
    assert customer(agent, customer_id)["services"] == ["api", "billing"]
    assert upsert(agent, {"external_id": "C-1", "name": "x"})["updated"] == 1
    assert customer(agent, customer_id)["services"] == ["api", "billing"]
    assert upsert(agent, {"external_id": "C-1", "services": ["api", "billing"]})["unchanged"] == 1
    assert upsert(agent, {"external_id": "C-1", "services": []})["updated"] == 1
    assert customer(agent, customer_id)["services"] == []
    assert count_rows(app, "customer_services")["customer_services"] == 0


def test_a_big_batch_in_one_request(app, agent):
    batch = [{"external_id": f"C-{n}", "email": f"c{n}@example.com", "segment": "smb" if n % 2 else "enterprise",
              "services": ["login"]} for n in range(10_000)]
    result = upsert(agent, {"customers": batch})
    assert (result["created"], len(set(result["ids"]))) == (10_000, 10_000)
    batch[5]["segment"] = "enterprise"
    again = upsert(agent, {"customers": batch})
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 9_999)
    assert count_rows(app, "customer_services")["customer_services"] == 10_000
    listed = agent.get("/api/v1/customers?segment=enterprise&per_page=1").get_json()
    assert listed["total"] == 5_001


def test_batch_limits_and_request_errors(app, agent, api_as):
    before = count_rows(app, *TABLES)
    too_many = upsert(agent, {"customers": [{"email": f"c{n}@example.com"} for n in range(10_001)]}, status=413)
    assert too_many["error"]["details"] == {"max": 10_000, "got": 10_001}
    assert upsert(agent, {"customers": []}, status=422)["error"]["code"] == "validation_error"
    assert agent.post("/api/v1/customers", data="{", headers={"Content-Type": "application/json"}).status_code == 400
    assert agent.post("/api/v1/customers", data="x", headers={"Content-Type": "text/plain"}).status_code == 415
    assert upsert(api_as("viewer"), ACME, status=403)["error"]["code"] == "forbidden"
    assert agent.client.post("/api/v1/customers", json=ACME).status_code == 401
    assert count_rows(app, *TABLES) == before


def test_list_filters_and_pages(agent, api_as):
    upsert(agent, {"customers": [
        {"external_id": "C-1", "email": "a@example.com", "segment": "enterprise", "services": ["login"]},
        {"external_id": "C-2", "email": "b@example.com", "segment": "smb", "services": ["login", "api"]},
        {"external_id": "C-3", "email": "c@example.com", "segment": "enterprise"}]})
    viewer = api_as("viewer")

    def ids(query):
        body = viewer.get(f"/api/v1/customers?{query}").get_json()
        return [c["external_id"] for c in body["items"]], body["total"]

    assert ids("") == (["C-1", "C-2", "C-3"], 3)
    assert ids("segment=enterprise") == (["C-1", "C-3"], 2)
    assert ids("service=login") == (["C-1", "C-2"], 2)
    assert ids("service=api&segment=enterprise") == ([], 0)
    assert ids("email=B@Example.com") == (["C-2"], 1)
    assert ids("per_page=2&page=2") == (["C-3"], 3)
    assert viewer.get("/api/v1/customers?email=nope").status_code == 422
    assert viewer.get("/api/v1/customers?per_page=501").status_code == 422


def test_get_unknown_customer_is_404(agent):
    response = agent.get("/api/v1/customers/999")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "customer_not_found"


def test_patch_preferences_opt_outs_and_details(agent):
    customer_id = upsert(agent, {"external_id": "C-1", "email": "c@example.com", "phone": "+393471234567"})["ids"][0]
    response = agent.patch(f"/api/v1/customers/{customer_id}",
                           json={"channels": ["sms", "email"], "opted_out": ["email"], "locale": "it_IT",
                                 "services": ["login"]})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["channels"], body["opted_out"], body["locale"], body["services"]) == (
        ["sms", "email"], ["email"], "it-IT", ["login"])
    assert customer(agent, customer_id)["opted_out"] == ["email"]
    # an upsert never touches opt-outs
    upsert(agent, {"external_id": "C-1", "channels": ["email", "sms"]})
    assert customer(agent, customer_id)["opted_out"] == ["email"]


def test_patch_refusals_change_nothing(agent, api_as):
    result = upsert(agent, {"customers": [{"external_id": "C-1", "email": "c@example.com", "channels": ["email"]},
                                          {"external_id": "C-2", "email": "d@example.com"}]})
    first = result["ids"][0]
    before = customer(agent, first)
    cases = [({"email": None}, 422, "validation_error"),
             ({"channels": ["sms"]}, 422, "validation_error"),
             ({"email": "d@example.com"}, 409, "email_taken"),
             ({"external_id": "C-2"}, 409, "external_id_taken"),
             ({"opted_out": ["pigeon"]}, 422, "validation_error"),
             ({"services": ["ok"], "colour": "red"}, 422, "validation_error")]
    for body, status, code in cases:
        response = agent.patch(f"/api/v1/customers/{first}", json=body)
        assert (response.status_code, response.get_json()["error"]["code"]) == (status, code), body
    assert customer(agent, first) == before
    assert agent.patch("/api/v1/customers/999", json={"name": "x"}).status_code == 404
    assert api_as("viewer").patch(f"/api/v1/customers/{first}", json={"name": "x"}).status_code == 403


def test_opt_out_and_in_by_id_ids_or_phone(app, agent):
    ids = upsert(agent, {"customers": [
        {"external_id": "C-1", "email": "a@example.com", "phone": "+393471234567"},
        {"external_id": "C-2", "email": "b@example.com", "phone": "+393471234567"},
        {"external_id": "C-3", "email": "c@example.com"}]})["ids"]
    with app.app_context():
        assert opt_out(ids[2], "email", how="staff") == [ids[2]]
        assert opt_out(ids[2], "email", how="staff") == []  # already out: nothing changes
        assert sorted(opt_out("+39 347 123 4567", "sms", how="staff")) == ids[:2]
        assert opt_out("not a phone", "sms", how="staff") == []
        assert opt_in([ids[0], ids[2]], "sms", how="staff") == [ids[0]]
        with pytest.raises(ValueError):
            opt_out(ids[0], "fax", how="staff")
    assert [customer(agent, i)["opted_out"] for i in ids] == [[], ["sms"], ["email"]]


@pytest.mark.parametrize("raw, expected", [("it-IT", "it-IT"), ("IT", "it"), ("en_GB", "en-GB"), (" en ", "en"),
                                           ("fr", "fr"), ("de-ch", "de-CH"), ("pt_BR", "pt-BR"),
                                           ("zh-hant-tw", "zh-Hant-TW"), ("es-419", "es-419")])
def test_locales_normalise(raw, expected):
    assert normalize_locale(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "", "english", "de-XY", "en-ZZ", "en-US-x-private", "fr_FR!", "a" * 40])
def test_unknown_locales_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_locale(raw)
