"""Templates that would keep a worker busy or fill its memory: refused when saved, and a render of one
already stored fails at once with the reason. Each attack below renders nothing, so only the limits
on loops, values, calls and time can stop it (the output-size limit never sees it)."""
from __future__ import annotations

import pytest

from incident.broadcast import template_render
from incident.broadcast import templates as T
from incident.broadcast.template_render import TemplateFailed, render_source
from incident.broadcast.wording import html_env, slack_env, text_env
from incident.errors import ValidationFailed

from ..helpers import logged_in
from ..web_helpers import post_form

LONG = "would build a text or list of more than 200,000 characters"
LOOPS = "loops would run more than 10,000 times"
BITS = "would build a number of more than 10,000 bits"

# (name, template, what the refusal says). Sizes are kept small enough that, before the limits
# existed, each of these rendered in well under a second (and so made the test fail, not hang).
ATTACKS = [
    ("nested loops over a string", "{% set s = 'x' * 1000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}.",
     LOOPS),
    ("nested loops over a list",
     "{% for a in incident.services * 500 %}{% for b in incident.services * 500 %}{% endfor %}{% endfor %}.", LOOPS),
    ("a loop over a filtered list", "{% for c in ('x' * 50000)|list %}{% endfor %}.", LOOPS),
    ("a loop with a test", "{% for c in 'x' * 50000 if c %}{% endfor %}.", LOOPS),
    ("a recursive loop", "{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}.", "may not be recursive"),
    ("center", "{% set x = 'x'|center(20000000) %}.", LONG),
    ("str.center", "{% set x = 'x'.center(20000000) %}.", LONG),
    ("str.ljust", "{% set x = 'x'.ljust(20000000) %}.", LONG),
    ("str.zfill", "{% set x = '1'.zfill(20000000) %}.", LONG),
    ("str.expandtabs", "{% set x = '\t'.expandtabs(20000000) %}.", LONG),
    ("str.translate", "{% set x = ('a' * 1000).translate({97: 'x' * 20000}) %}.", LONG),
    ("int.to_bytes", "{% set x = (1).to_bytes(20000000, 'big') %}.", LONG),
    ("indent", "{% set x = 'a\nb'|indent(20000000) %}.", LONG),
    ("indent with a string", "{% set x = ('a\n' * 20000)|indent('x' * 1000) %}.", LONG),
    ("wordwrap", "{% set x = ('ab ' * 10000)|wordwrap(1, wrapstring='x' * 1000) %}.", LONG),
    ("replace", "{% set x = ('x' * 5000)|replace('x', 'y' * 5000) %}.", LONG),
    ("str.replace", "{% set x = ('x' * 5000).replace('x', 'y' * 5000) %}.", LONG),
    ("join", "{% set x = (['y' * 10000] * 2000)|join %}.", LONG),
    ("join with a separator", "{% set x = ('x' * 50000)|join('y' * 200) %}.", LONG),
    ("str.join", "{% set x = ('y' * 200).join('x' * 50000) %}.", LONG),
    ("format", "{% set x = '%20000000s'|format('a') %}.", LONG),
    ("format with a * width", "{% set x = '%*s'|format(20000000, 'a') %}.", "'*' width"),
    ("printf %", "{% set x = '%20000000d' % 1 %}.", LONG),
    ("printf % reusing a value", "{% set x = ('%(a)s' * 1000) % {'a': 'x' * 50000} %}.", LONG),
    ("str.format width", "{% set x = '{:>20000000}'.format('a') %}.", LONG),
    ("str.format nested width", "{% set x = '{:>{}}'.format('a', 20000000) %}.", LONG),
    ("str.format reusing a value", "{% set x = ('{0}' * 1000).format('x' * 50000) %}.", LONG),
    ("urlize target", "{% set x = ('a.co ' * 2000)|urlize(target='x' * 10000) %}.", LONG),
    ("tojson indent", "{% set x = [[[[1]]]]|tojson(1000000) %}.", "indent may be at most 8"),
    ("batch filler", "{% set x = [1]|batch(500000, 'x')|list %}.", LONG),
    ("slice", "{% set x = [1]|slice(300000)|list %}.", LONG),
    ("doubling with ~", "{% set ns = namespace(s='x' * 1000) %}"
                        "{% for i in range(16) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}.", LONG),
    ("doubling with +", "{% set ns = namespace(s=['x' * 1000]) %}"
                        "{% for i in range(16) %}{% set ns.s = ns.s + ns.s %}{% endfor %}.", LONG),
    ("a list nested in itself, printed",
     "{% set a = ['x' * 1000] %}" + "{% set a = [a, a] %}" * 14 + "{% set x = a|string %}.", LONG),
    ("a list nested in itself, compared",
     "{% set a = ['x' * 1000] %}{% set b = ['x' * 1000] %}" + "{% set a = [a, a] %}{% set b = [b, b] %}" * 16
     + "{% if a == b %}.{% else %}.{% endif %}", LONG),
    ("squaring a number", "{% set ns = namespace(n=9 ** 60) %}"
                          "{% for i in range(14) %}{% set ns.n = ns.n * ns.n %}{% endfor %}.", BITS),
    ("a power of a power", "{% set x = ((9 ** 60) ** 60) ** 60 %}.", BITS),
    ("lipsum", "{% set x = lipsum(2000) %}.", "lipsum"),
]


@pytest.mark.parametrize("source, reason", [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_an_attack_is_refused_at_render(source, reason):
    overrides = {("status", "sms", "en"): ("", source)}
    with pytest.raises(ValidationFailed) as caught:
        T.render("status", "sms", "en", T.sample_context(), overrides=overrides)
    assert caught.value.code == "template_invalid"
    assert reason in caught.value.message, caught.value.message
    assert caught.value.message.startswith("The template status.en.sms body")


@pytest.mark.parametrize("source, reason", [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_an_attack_is_refused_on_save_with_the_reason(ctx, lead, source, reason):
    with pytest.raises(ValidationFailed) as caught:
        T.save_template("status", "email", "en", "Subject", source, lead)
    assert reason in caught.value.message and caught.value.details["part"] == "body"
    if len(source) <= 300:                                         # the subject is a template too
        with pytest.raises(ValidationFailed) as caught:
            T.save_template("status", "email", "en", source, "Hello", lead)
        assert reason in caught.value.message and caught.value.details["part"] == "subject"
    assert T.load_overrides() == {}


@pytest.mark.parametrize("env", [text_env, slack_env, html_env], ids=["text", "slack", "html"])
def test_every_environment_has_the_limits(env):
    for _, source, reason in ATTACKS:
        with pytest.raises(TemplateFailed) as caught:
            render_source(env, source, {"incident": {"services": ["a", "b"]}})
        assert reason in caught.value.reason


def test_the_time_limit_holds_without_any_output(monkeypatch):
    """The deadline is checked on every loop turn, call, filter and operation, not only on output."""
    monkeypatch.setattr(template_render, "MAX_SECONDS", -1.0)   # a render that is late from its first step
    for source in ["{% for i in range(3) %}{% endfor %}",
                   "{% macro m() %}{% endmacro %}{% set x = m() %}",
                   "{% set x = 'a'|upper %}",
                   "{% set x = 1 + 1 %}"]:
        with pytest.raises(TemplateFailed, match="takes longer than -1 s"):
            render_source(text_env, source, {})


def test_calls_are_counted(monkeypatch):
    """Macros calling themselves twice over make no output and no loop; every call counts as a step."""
    from incident.broadcast import template_limits

    monkeypatch.setattr(template_limits, "MAX_WORK", 50_000)
    source = ("{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}{% endmacro %}"
              "{% set x = m(20) %}.")
    with pytest.raises(TemplateFailed, match=r"more work than one render may \(50,000 units\)"):
        render_source(text_env, source, {})


def test_real_templates_stay_well_inside_the_limits():
    body = ("{% for s in incident.services %}{{ loop.index }}. {{ s|upper|center(20) }}{% if not loop.last %}, "
            "{% endif %}{% endfor %}\n{{ '%s (%d)'|format(incident.reference, service_count) }} "
            "{{ '{} / {}'.format(status_label, kind) }} {{ message|default('-')|replace('-', '–')|wordwrap(40) }} "
            "{{ incident.services|join(', ') }} {{ ('x' * 3)|indent(2, true) }} {{ incident.title|truncate(20) }} "
            "{{ [1, 2, 3]|batch(2)|list|length }} {{ range(5)|map('string')|join }} {{ 2 ** 10 }}")
    message = T.render("status", "email", "en", T.sample_context(), overrides={
        ("status", "email", "en"): ("Subject {{ incident.reference }}", body)})
    assert "1.        LOGIN        , 2.       PAYMENTS" in message.text
    assert "INC-42 (2) cause identified / status" in message.text and "01234 1024" in message.text
    # five thousand turns of a loop are fine, and every render has a fresh budget
    for _ in range(3):
        T.validate_template("status", "email", "en", "S", "{% for i in range(5000) %}{{ i }}{% endfor %}")


@pytest.fixture
def lead(app, ctx, make_user):
    from incident.auth.models import User
    from incident.extensions import db

    user_id, _ = make_user(role="lead")
    return db.session.get(User, user_id)


def test_the_templates_page_refuses_an_attack_with_its_reason(app, client, make_user):

    logged_in(client, make_user, role="lead")
    path = "/templates/status/sms/en"
    attack = "{% for a in 'x' * 1000 %}{% for b in 'x' * 1000 %}{% endfor %}{% endfor %}Hello"
    response = post_form(client, path, {"action": "save", "body": attack}, page=path)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and LOOPS in page
    with app.app_context():
        assert T.load_overrides() == {}


@pytest.mark.parametrize("source", ["{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}",
                                    "{{ " + "[" * 3000 + "]" * 3000 + " }}",
                                    "{% if 1 %}" * 2000 + "x" + "{% endif %}" * 2000])
def test_a_template_nested_thousands_deep_is_refused_not_a_crash(source):
    with pytest.raises(TemplateFailed, match="nested too deeply"):
        render_source(text_env, source, {})
