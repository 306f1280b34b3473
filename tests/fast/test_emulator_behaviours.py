"""How the emulator picks a user's image behaviour from its tag, and the --behaviours file it validates."""

from __future__ import annotations

import json

import pytest

from bluegreen_emulator.behaviours import Behaviour, Behaviours, BehavioursError, Rule, load


@pytest.mark.parametrize(
    ("tag", "kind"),
    [
        ("v1", "healthy"),
        ("2.3.1", "healthy"),
        ("v2-broken", "unhealthy"),
        ("v7-5xx", "errors"),
        ("v7-5xx-rising", "rising5xx"),
        ("v2-crash", "crash"),
        ("v2-slow-tail", "slowtail"),
        ("v2-slow-mean", "slowmean"),
        ("v2-slow", "slow"),
    ],
)
def test_the_built_in_tag_patterns_are_the_demos(tag, kind):
    # Given no rules of the user's, When a tag is looked up, Then the demo's tag suffixes decide, else healthy
    assert Behaviours().of_tags([tag]).kind == kind


def test_the_users_rules_come_first_and_the_first_matching_tag_decides():
    # Given a rule making release candidates crash after 30 s, and one overriding a built-in pattern
    rules = [
        Rule(tag="*-rc[0-9]", behaviour=Behaviour(kind="crash", crashAfterSeconds=30)),
        Rule(tag="*-5xx", behaviour=Behaviour(kind="errors", errorShare=0.2)),
    ]
    behaviours = Behaviours(rules)
    # Then a matching tag gets the user's behaviour, parameters included
    assert behaviours.of_tags(["v3-rc1"]) == Behaviour(kind="crash", crashAfterSeconds=30)
    assert behaviours.of_tags(["v3-5xx"]).errorShare == 0.2
    # And of an image's several tags, the first that matches a rule decides
    assert behaviours.of_tags(["latest", "v2-broken", "v3-rc1"]).kind == "unhealthy"


def test_a_yaml_file_is_validated(tmp_path):
    # Given a YAML behaviours file
    path = tmp_path / "behaviours.yaml"
    path.write_text("rules:\n  - tag: 'canary-*'\n    behaviour: {kind: errors, errorShare: 0.3}\n")
    # When loaded, Then its rules are there
    (rule,) = load(path).rules
    assert (rule.tag, rule.behaviour.kind, rule.behaviour.errorShare) == ("canary-*", "errors", 0.3)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ({"rules": [{"tag": "x", "behaviour": {"kind": "exploding"}}]}, "kind"),
        ({"rules": [{"tag": "x", "behaviour": {"kind": "errors", "errorShare": 2}}]}, "errorShare"),
        ({"rules": [{"tag": "", "behaviour": {}}]}, "tag"),
        ({"rule": []}, "rule"),
    ],
)
def test_a_bad_file_is_refused_with_what_to_fix(tmp_path, content, names):
    # Given a JSON file with a mistake, When loaded, Then it is refused, naming the file and the field
    path = tmp_path / "behaviours.json"
    path.write_text(json.dumps(content))
    with pytest.raises(BehavioursError) as refused:
        load(path)
    assert str(path) in str(refused.value) and names in str(refused.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(BehavioursError, match="cannot read"):
        load(tmp_path / "absent.yaml")
