"""The pure rules: which entries flag tickets, what a match is, the best entry, search words."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from incident.known_issues import policy
from incident.known_issues.policy import Entry, Matcher

T = datetime(2026, 11, 22, 9, 0, tzinfo=timezone.utc)


def matcher(*entries: Entry) -> Matcher:
    return Matcher.build(entries)


def test_words_ignore_case_and_punctuation():
    assert policy.words("Can't LOG-IN! «Errore» 502…") == ["can", "t", "log", "in", "errore", "502"]
    assert policy.words("  ") == []


@pytest.mark.parametrize(("subject", "description", "found"), [
    ("Cannot log in", "", True),
    ("", "Since 9 I can't LOG-IN, help", True),        # case and punctuation do not matter
    ("Log\nin fails", "", True),                        # nor line breaks
    ("Blog in Italian", "", False),                     # whole words only
    ("Login fails", "", False),                         # "login" is one word, not "log in"
    ("In log", "", False),                              # in order
    ("Cannot log", "in", False),                        # within one field, not across subject and description
])
def test_a_phrase_is_its_words_in_order_in_subject_or_description(subject, description, found):
    m = matcher(Entry(42, phrases=("log in",)))
    assert (m.match([], subject, description) == 42) is found


def test_tags_match_only_when_all_are_on_the_ticket():
    m = matcher(Entry(7, tags=frozenset({"login", "eu"})))
    assert m.match(["eu", "login", "vip"], "", "") == 7
    assert m.match(["login"], "", "") is None
    assert m.match([], "eu login", "") is None          # tags are tags, not words


def test_either_rule_flags_and_the_first_entry_given_wins():
    best, other = Entry(1, tags=frozenset({"login"})), Entry(2, phrases=("error 502",))
    m = matcher(best, other)
    assert m.match(["login"], "Error 502", "") == 1
    assert matcher(other, best).match(["login"], "Error 502", "") == 2
    assert m.match([], "error 502 again", "") == 2
    assert m.match(["billing"], "slow", "nothing here") is None


def test_an_empty_matcher_is_false_and_matches_nothing():
    m = matcher(Entry(3))          # neither tags nor phrases
    assert not m and m.match(["login"], "log in", "") is None
    assert matcher(Entry(3, tags=frozenset({"x"})))


def test_many_entries_each_found_by_its_own_words():
    entries = [Entry(n, tags=frozenset({f"t{n}", "common"}), phrases=(f"code e{n} shown",)) for n in range(1, 51)]
    m = matcher(*entries)
    assert m.match(["common", "t37"], "", "") == 37
    assert m.match([], "", "The app says: code E41 shown twice") == 41
    assert m.match(["common"], "code e99 shown", "") is None


@pytest.mark.parametrize(("is_open", "merged", "enabled", "fix", "workaround", "tags", "phrases", "flags"), [
    (True, False, True, "", "", ["login"], [], True),             # an open incident flags while it is open
    (False, False, True, "", "", ["login"], [], False),           # resolved with nothing to tell: no
    (False, False, True, "Update the app", "", ["login"], [], True),
    (False, False, True, "", "Use the app", [], ["log in"], True),
    (False, False, True, "  ", "", ["login"], [], False),          # blanks say nothing
    (True, True, True, "x", "y", ["login"], [], False),            # a merged duplicate never
    (True, False, False, "x", "y", ["login"], [], False),          # switched off by staff
    (True, False, True, "x", "y", [], [], False),                  # nothing to match on
])
def test_which_entries_flag_tickets(is_open, merged, enabled, fix, workaround, tags, phrases, flags):
    assert policy.flags_tickets(is_open=is_open, merged=merged, enabled=enabled, fix=fix, workaround=workaround,
                                tags=tags, phrases=phrases) is flags


def test_entries_rank_open_ones_first_most_severe_then_newest_then_latest_resolved():
    keys = {
        "sev2 open": policy.rank_key(is_open=True, severity="SEV2", declared_at=T, resolved_at=None),
        "sev1 open old": policy.rank_key(is_open=True, severity="SEV1", declared_at=T - timedelta(days=1),
                                         resolved_at=None),
        "sev1 open new": policy.rank_key(is_open=True, severity="SEV1", declared_at=T, resolved_at=None),
        "resolved yesterday": policy.rank_key(is_open=False, severity="SEV1", declared_at=T - timedelta(days=9),
                                              resolved_at=T - timedelta(days=1)),
        "resolved last week": policy.rank_key(is_open=False, severity="SEV1", declared_at=T - timedelta(days=9),
                                              resolved_at=T - timedelta(days=7)),
    }
    assert sorted(keys, key=keys.get) == ["sev1 open new", "sev1 open old", "sev2 open", "resolved yesterday",
                                          "resolved last week"]


def test_state_phrases_and_search_words():
    assert policy.state(is_open=True) == "current" and policy.state(is_open=False) == "known"
    assert policy.phrase_problem("a!") is not None and policy.phrase_problem("!!!") is not None
    assert policy.phrase_problem("a b") is None and policy.phrase_problem("502") is None
    assert policy.search_terms("  Login  login 502 ") == ["login", "502"]
    assert len(policy.search_terms(" ".join(f"w{n}" for n in range(30)))) == policy.MAX_SEARCH_WORDS
    assert policy.reference_id("inc-42") == 42 and policy.reference_id("inc42") == 42
    assert policy.reference_id("inc-") is None and policy.reference_id("42") is None
    assert policy.search_text("Use the APP", "", ["login", "eu"], ()) == "use the app\nlogin eu"
