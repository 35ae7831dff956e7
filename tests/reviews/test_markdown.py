"""Markdown rendered safely (no HTML through, no script links, no images) and the export that reads as text."""
from __future__ import annotations

import pytest

from incident.reviews.markdown import md_text, render, safe_link


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<a href='javascript:alert(1)'>x</a>",
    "<iframe src=https://evil.example></iframe>", "<div onclick=alert(1)>x</div>"])
def test_raw_html_shows_as_text(text):
    html = str(render(text))
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<div" not in html
    assert "&lt;" in html


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JAVASCRIPT:alert(1)", "java\tscript:alert(1)", "jav&#x09;ascript:alert(1)",
    "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=", "file:///etc/passwd"])
def test_links_to_scripts_and_data_are_not_links(url):
    html = str(render(f"[click me]({url}) and <{url}>"))
    assert "href=" not in html.replace('href="#', "")
    assert "click me" in html


def test_safe_links_are_links_that_do_not_leak_the_page():
    html = str(render("See [the runbook](https://wiki.example.com/rb?a=1&b=2), <mailto:ops@example.com>, [below](#x)"))
    assert '<a href="https://wiki.example.com/rb?a=1&amp;b=2" rel="nofollow noopener noreferrer">the runbook</a>' in html
    assert 'href="mailto:ops@example.com"' in html and 'href="#x"' in html
    assert safe_link("/incidents/3") and safe_link("HTTPS://x.example") and not safe_link(" javascript:x")


def test_markdown_itself_renders():
    html = str(render("## Cause\n\n**bold** _it_ `code` ~~old~~\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |"))
    for piece in ("<h2>Cause</h2>", "<strong>bold</strong>", "<em>it</em>", "<code>code</code>", "<s>old</s>",
                  "<li>one</li>", "<table>", "<td>1</td>"):
        assert piece in html


def test_images_are_not_loaded():
    html = str(render("![tracking pixel](https://evil.example/p.gif)"))
    assert "<img" not in html


def test_record_text_in_the_export_reads_as_text():
    assert md_text("Login *down* <b>now</b> | [x](javascript:y) # `z`") == (
        "Login \\*down\\* \\<b\\>now\\</b\\> \\| \\[x\\](javascript:y) \\# \\`z\\`")
    assert md_text("two\nlines") == "two lines"
    assert str(render(md_text("<script>alert(1)</script> **x**"))).strip() == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt; **x**</p>")
