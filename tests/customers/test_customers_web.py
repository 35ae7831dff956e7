"""The Customers pages of the staff UI: search, one customer with their tickets, incidents, messages
and opt-outs, editing by a lead (refused to a viewer), a streamed CSV import, and escaping."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from incident.customers.models import Customer
from incident.extensions import db

from ..conftest import count_rows
from ..factories import ticket
from ..helpers import add_customers, broadcast, declare, ingest, logged_in, run_worker
from ..web_helpers import csrf_from

XSS = "<script>alert(1)</script>"


def stored(app, customer_id) -> dict:
    with app.app_context():
        c = db.session.get(Customer, customer_id)
        return {"name": c.name, "email": c.email, "phone": c.phone, "locale": c.locale, "segment": c.segment,
                "channels": c.channels, "opted_out": c.opted_out, "services": [s.name for s in c.services],
                "external_id": c.external_id, "updated_at": c.updated_at}


def edit_form(**changes) -> dict:
    form = {"name": "Ada Lovelace", "external_id": "C-1", "email": "ada@example.com", "phone": "+393471000001",
            "slack_channel": "", "locale": "en", "segment": "", "channels": ["email", "sms"], "opted_out": [],
            "services": "login"}
    form.update(changes)
    return form


def post_edit(client, customer_id, form):
    path = f"/customers/{customer_id}"
    return client.post(path, data={**form, "csrf_token": csrf_from(client, "/customers")})


@pytest.fixture
def people(app):
    return add_customers(
        app,
        {"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+393471000001", "channels": ["email", "sms"],
         "segment": "enterprise", "services": ["login"]},
        {"name": "Bruno Rossi", "phone": "+393471000002", "channels": ["sms"], "locale": "it", "services": ["billing"]},
        {"name": "Carla 100% Bianchi", "email": "carla@acme.example", "channels": ["email"], "segment": "smb",
         "opted_out": ["email"]},
    )


def names(html: str) -> list[str]:
    return re.findall(r'<tr data-customer="\d+">\s*<td><a href="/customers/\d+">([^<]+)</a>', html)


def test_search_by_name_email_phone_segment_and_service(app, client, make_user, people):
    with app.app_context():  # an external id to find, set as the API would
        db.session.get(Customer, people[1]).external_id = "CRM-42"
        db.session.commit()
    logged_in(client, make_user, role="viewer")
    assert names(client.get("/customers").get_data(as_text=True)) == ["Ada Lovelace", "Bruno Rossi",
                                                                      "Carla 100% Bianchi"]
    for query, expected in [({"q": "ada"}, ["Ada Lovelace"]), ({"q": "ROSSI"}, ["Bruno Rossi"]),
                            ({"q": "carla@"}, ["Carla 100% Bianchi"]), ({"q": "acme.example"}, ["Carla 100% Bianchi"]),
                            ({"q": "+39 347 100 0002"}, ["Bruno Rossi"]), ({"q": "CRM-42"}, ["Bruno Rossi"]),
                            ({"q": "100%"}, ["Carla 100% Bianchi"]), ({"q": "0%"}, ["Carla 100% Bianchi"]),
                            ({"q": "a_a"}, []),   # '_' is a letter here, not LIKE's any-character
                            ({"segment": "enterprise"}, ["Ada Lovelace"]), ({"service": "billing"}, ["Bruno Rossi"]),
                            ({"q": "a", "segment": "smb"}, ["Carla 100% Bianchi"]), ({"q": "nobody"}, [])]:
        html = client.get("/customers", query_string=query).get_data(as_text=True)
        assert names(html) == expected, query
    html = client.get("/customers", query_string={"q": "nobody"}).get_data(as_text=True)
    assert "No customer matches." in html


def test_search_pages_by_id_with_next_links(app, client, make_user):
    add_customers(app, *({"name": f"Person {n:03}", "email": f"p{n}@example.com"} for n in range(120)))
    logged_in(client, make_user, role="viewer")
    seen, path = [], "/customers?q=person"
    while path:
        html = client.get(path).get_data(as_text=True)
        seen += names(html)
        match = re.search(r'<a href="([^"]+)" rel="next">', html)
        path = match.group(1).replace("&amp;", "&") if match else None
    assert seen == [f"Person {n:03}" for n in range(120)]     # 50 + 50 + 20, none twice, none missed
    assert "q=person" in client.get("/customers?q=person").get_data(as_text=True).split('rel="next"')[0][-80:]


def test_contacts_are_masked_below_lead_and_whole_for_leads(app, make_user, people):
    viewer = logged_in(app.test_client(), make_user, role="viewer", email="vera@example.com")
    lead = logged_in(app.test_client(), make_user, role="lead", email="leo@example.com")
    for path in ("/customers", f"/customers/{people[0]}"):
        seen_by_viewer = viewer.get(path).get_data(as_text=True)
        assert "ada@example.com" not in seen_by_viewer and "+393471000001" not in seen_by_viewer
        assert "a…@example.com" in seen_by_viewer and "+39********01" in seen_by_viewer
        seen_by_lead = lead.get(path).get_data(as_text=True)
        assert "ada@example.com" in seen_by_lead and "+393471000001" in seen_by_lead


def test_the_detail_shows_tickets_incidents_messages_and_opt_outs(app, client, api, make_user, channels, frozen):
    ingest(api, {"tickets": [ticket(1, requester={"name": "Ada", "email": "ada@example.com"}, subject="502 on login"),
                             ticket(2, requester={"name": "Ada", "email": "ada@example.com"}, subject="Still down"),
                             ticket(3)]})
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.email == "ada@example.com"))
        customer.phone, customer.channels, customer.opted_out = "+393471000001", ["sms", "email"], ["sms"]
        customer.services = []
        db.session.commit()
        customer_id = customer.id
    linked = declare(api, title="Login failing", services=["api"])
    assert api.post(f"/api/v1/incidents/{linked['id']}/tickets", json={"external_ids": ["ZD-1"]}).status_code == 200
    api.patch(f"/api/v1/customers/{customer_id}", json={"services": ["billing"]})
    subscribed = declare(api, title="Invoices late", services=["billing"])
    declare(api, title="Not theirs", services=["search"])
    assert broadcast(api, subscribed["id"], channels=["sms", "email"], kind="status").status_code == 201
    run_worker(app)

    logged_in(client, make_user, role="viewer")
    html = client.get(f"/customers/{customer_id}").get_data(as_text=True)
    tickets = re.findall(r'<tr data-ticket="([^"]+)">', html)
    assert tickets == ["ZD-2", "ZD-1"] or sorted(tickets) == ["ZD-1", "ZD-2"]
    assert "502 on login" in html and "Still down" in html and "ZD-3" not in html
    incidents = dict(re.findall(r'<li data-incident="(\d+)">.*?<small>([^<]*)</small>', html, re.S))
    assert incidents == {str(linked["id"]): "their ticket is linked",
                         str(subscribed["id"]): "they subscribe to billing"}
    messages = re.findall(r'<tr data-delivery="\d+">(.*?)</tr>', html, re.S)
    assert len(messages) == 1
    assert f'INC-{subscribed["id"]}' in messages[0] and "status" in messages[0]
    assert ">email<" in messages[0].replace("<td>", ">").replace("</td>", "<")   # sms is opted out: email it was
    assert 'class="status sent"' in messages[0] or 'class="status delivered"' in messages[0]
    assert "a…@example.com" in messages[0] and "ada@example.com" not in html   # a viewer: masked
    opt_outs = html.split('id="customer-opt-outs"')[1].split("</section>")[0]
    assert re.search(r'Opted out of <strong class="tag">sms</strong>', opt_outs)
    assert "since Tocsin began keeping the history" in opt_outs   # set before the history: it says so, invents nothing
    assert 'id="customer-edit"' not in html                                  # viewers read only


def test_a_lead_edits_preferences_and_contact_fields(app, client, make_user, people):
    logged_in(client, make_user, role="lead")
    response = post_edit(client, people[0], edit_form(
        name="Ada L.", email="ADA@Example.com ", phone="+39 347 100 0009", locale="it-IT", segment="Enterprise",
        channels=["sms", "", "email"], opted_out=["slack"], services="login, billing"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/customers/{people[0]}")
    after = stored(app, people[0])
    assert {k: after[k] for k in ("name", "email", "phone", "locale", "segment", "channels", "opted_out",
                                  "services", "external_id")} == {
        "name": "Ada L.", "email": "ada@example.com", "phone": "+393471000009", "locale": "it-IT",
        "segment": "enterprise", "channels": ["sms", "email"], "opted_out": ["slack"], "services": ["billing", "login"],
        "external_id": "C-1"}
    page = client.get(f"/customers/{people[0]}").get_data(as_text=True)
    assert "Saved Ada L.." in page and 'value="+393471000009"' in page


def test_a_viewer_or_agent_may_not_edit_or_import(app, make_user, people):
    before = stored(app, people[0])
    for role in ("viewer", "agent"):
        client = logged_in(app.test_client(), make_user, role=role, email=f"{role}@example.com")
        assert 'id="customer-edit"' not in client.get(f"/customers/{people[0]}").get_data(as_text=True)
        assert post_edit(client, people[0], edit_form(name="Hacked")).status_code == 403
        upload = {"file": (io.BytesIO(b"email,name\nx@example.com,X\n"), "c.csv"),
                  "csrf_token": csrf_from(client, "/customers")}
        assert client.post("/customers/import", data=upload, content_type="multipart/form-data").status_code == 403
    assert stored(app, people[0]) == before
    assert count_rows(app, "customers")["customers"] == 3


@pytest.mark.parametrize("changes, field", [
    ({"phone": "12345"}, "phone"),
    ({"email": "not an email"}, "email"),
    ({"channels": ["email", "email"]}, "channels"),
    ({"channels": ["slack"]}, "channels"),            # no Slack channel to reach them on
    ({"opted_out": []}, "opted_out"),                 # lifting an SMS opt-out is the customer's call
    ({"email": "carla@acme.example"}, "email"),       # someone else's address
])
def test_a_bad_edit_is_refused_with_nothing_written(app, client, make_user, people, changes, field):
    with app.app_context():
        db.session.get(Customer, people[0]).opted_out = ["sms"]
        db.session.commit()
    before = stored(app, people[0])
    logged_in(client, make_user, role="lead")
    response = post_edit(client, people[0], edit_form(**{"name": "Changed too", "locale": "it", "opted_out": ["sms"],
                                                         "services": "login, search", **changes}))
    html = response.get_data(as_text=True)
    assert 400 <= response.status_code < 500
    assert f'id="error-{field}"' in html or f"{field}:" in html
    assert 'value="Changed too"' in html                  # the form comes back as typed
    assert stored(app, people[0]) == before               # nothing of it written
    assert count_rows(app, "services")["services"] == 2   # not even the new service


def test_a_bad_phone_says_why(client, make_user, people):
    logged_in(client, make_user, role="lead")
    response = post_edit(client, people[0], edit_form(phone="12345"))
    assert response.status_code == 422
    assert re.search(r'<small class="field-error" id="error-phone">[^<]*phone number', response.get_data(as_text=True))


def test_an_edit_needs_the_csrf_token(app, client, make_user, people):
    before = stored(app, people[0])
    logged_in(client, make_user, role="lead")
    assert client.post(f"/customers/{people[0]}", data=edit_form(name="No token")).status_code == 400
    assert stored(app, people[0]) == before


CRM = ("external_id;name;email;phone;segment;channels;services\n"
       + "".join(f"C-{n};Customer {n};c{n}@example.com;;smb;email;login\n" for n in range(1, 12))
       + "C-1;Customer One;;;;;\n")


def upload(client, text, **form):
    data = {"file": (io.BytesIO(text.encode()), "crm.csv"), "csrf_token": csrf_from(client, "/customers"), **form}
    return client.post("/customers/import", data=data, content_type="multipart/form-data")


def test_csv_import_streams_its_progress_then_the_result(app, client, make_user, monkeypatch):
    from incident.customers import csv_import

    real = csv_import.import_steps
    monkeypatch.setattr("incident.web.customers.import_steps", lambda *a, **kw: real(*a, **kw, chunk_size=5))
    logged_in(client, make_user, role="lead")
    response = upload(client, CRM)
    assert response.status_code == 200
    chunks = [chunk.decode() for chunk in response.response]   # as the browser gets them, one after another
    html = "".join(chunks)
    steps = re.findall(r'<li data-stage="(\w+)" data-done="(\d+)" data-total="(\d*)">', html)
    assert steps == [("checked", "5", ""), ("checked", "10", ""), ("checked", "12", "12"),
                     ("written", "5", "12"), ("written", "10", "12"), ("written", "12", "12")]
    first_step = next(i for i, chunk in enumerate(chunks) if "data-stage" in chunk)
    result = next(i for i, chunk in enumerate(chunks) if 'id="import-result"' in chunk)
    assert first_step < result                     # the progress left before the import finished
    assert re.search(r'id="import-result" role="status">Imported 12 rows: 11 created, 1 updated, 0 unchanged\.', html)
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    with app.app_context():
        assert db.session.scalar(select(Customer.name).where(Customer.external_id == "C-1")) == "Customer One"
    assert count_rows(app, "customers")["customers"] == 11


def test_csv_import_with_bad_rows_writes_nothing_unless_told_to_skip(app, client, make_user):
    logged_in(client, make_user, role="lead")
    bad = "external_id,name,email,phone\nC-1,Good,good@example.com,\nC-2,Bad,bad@example.com,12345\n"
    html = upload(client, bad).get_data(as_text=True)
    assert re.search(r'id="import-result" role="alert">Nothing was imported: 1 bad rows \(line 3: phone: ', html)
    assert count_rows(app, "customers")["customers"] == 0
    html = upload(client, bad, skip_bad_rows="on").get_data(as_text=True)
    assert "Imported 1 rows: 1 created, 0 updated, 0 unchanged. Skipped 1 bad rows: line 3: phone" in html
    assert count_rows(app, "customers")["customers"] == 1


def test_csv_import_of_a_file_without_an_id_column_is_refused_before_the_page(app, client, make_user):
    logged_in(client, make_user, role="lead")
    response = upload(client, "name,phone\nAda,+393471000001\n")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No external_id or email column" in html
    assert count_rows(app, "customers")["customers"] == 0


def test_a_customer_named_script_is_escaped_everywhere(app, client, api, make_user, channels, frozen):
    ids = add_customers(app, {"name": XSS, "email": "x@example.com", "channels": ["email"], "segment": "smb",
                              "services": ["login"]})
    ingest(api, {"tickets": [ticket(9, requester={"name": XSS, "email": "x@example.com"}, subject=XSS)]})
    incident = declare(api, title=XSS, services=["login"])
    assert broadcast(api, incident["id"], channels=["email"]).status_code == 201
    run_worker(app)
    logged_in(client, make_user, role="lead")
    pages = [client.get("/customers").get_data(as_text=True), client.get("/customers?q=script").get_data(as_text=True),
             client.get(f"/customers/{ids[0]}").get_data(as_text=True)]
    data = {"file": (io.BytesIO(f'email,name\nx@example.com,"{XSS}"\n'.encode()), f"{XSS}.csv"),
            "csrf_token": csrf_from(client, "/customers")}
    pages.append(client.post("/customers/import", data=data, content_type="multipart/form-data")
                 .get_data(as_text=True))   # the file's name is shown
    for html in pages:
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in pages[2].split("</head>")[1]   # no script element in the page body at all


def test_the_nav_links_to_customers(client, make_user):
    logged_in(client, make_user, role="viewer")
    assert '<a href="/customers">Customers</a>' in client.get("/").get_data(as_text=True)


def test_pages_need_a_login(client, people):
    for path in ("/customers", f"/customers/{people[0]}"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/customers/999999").status_code == 302


def test_an_unknown_customer_is_404(client, make_user):
    logged_in(client, make_user, role="viewer")
    assert client.get("/customers/999999").status_code == 404



def test_a_private_incident_is_left_out_for_staff_who_may_not_see_it(app, api, make_user, frozen):
    from incident.outbox.models import Delivery

    ingest(api, {"tickets": [ticket(1, requester={"name": "Ada", "email": "ada@example.com"})]})
    secret = declare(api, title="Breach of the vault", services=["vault"], private=True)
    assert api.post(f"/api/v1/incidents/{secret['id']}/tickets", json={"external_ids": ["ZD-1"]}).status_code == 200
    with app.app_context():
        customer = db.session.scalar(select(Customer).where(Customer.email == "ada@example.com"))
        db.session.add(Delivery(purpose="broadcast", dedupe_key="b-1", incident_id=secret["id"], channel="email",
                                customer_id=customer.id, recipient="ada@example.com", status="sent"))
        db.session.commit()
        customer_id = customer.id
    outsider = logged_in(app.test_client(), make_user, role="lead", email="out@example.com")
    html = outsider.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Breach of the vault" not in html and f"INC-{secret['id']}" not in html
    assert '<tr data-ticket="ZD-1">' in html                      # the ticket itself, as on the tickets view
    assert "Messages received <small>(0" in html
    admin = logged_in(app.test_client(), make_user, role="admin", email="root@example.com")
    html = admin.get(f"/customers/{customer_id}").get_data(as_text=True)
    assert "Breach of the vault" in html and "Messages received <small>(1" in html


def test_a_file_unreadable_half_way_ends_the_page_with_nothing_written(app, client, make_user, monkeypatch):
    from incident.customers import csv_import

    real = csv_import.import_steps
    monkeypatch.setattr("incident.web.customers.import_steps", lambda *a, **kw: real(*a, **kw, chunk_size=2))
    logged_in(client, make_user, role="lead")
    good = "email,name\n" + "".join(f"c{n}@example.com,Customer {n}\n" for n in range(1000))   # past the first read
    data = {"file": (io.BytesIO(good.encode() + b"x@example.com,\xff\xfe\n"), "crm.csv"),
            "csrf_token": csrf_from(client, "/customers")}
    html = client.post("/customers/import", data=data, content_type="multipart/form-data").get_data(as_text=True)
    assert re.search(r'<li data-stage="checked" data-done="2"', html)          # it had started
    assert 'id="import-result" role="alert">Nothing was imported: The file is not UTF-8 text.' in html
    assert count_rows(app, "customers")["customers"] == 0
