"""Claims in code: asserted at the knobs' defaults with the statement as the message, reported otherwise."""
from __future__ import annotations

import pytest

from sparrow_course.claims import ClaimError, Claims, at_defaults


def test_at_defaults_compares_every_named_knob():
    knobs = {"SEED": 2024, "STEPS": (1, 3), "K": 20}
    assert at_defaults(knobs, SEED=2024, STEPS=(1, 3))
    assert at_defaults({"STEPS": [1, 3]}, STEPS=(1, 3))            # a list for a tuple is the same knob value
    assert not at_defaults(knobs, SEED=2024, K=10)
    with pytest.raises(ValueError, match=r"knobs \['N'\] are not defined"):
        at_defaults(knobs, N=3)
    with pytest.raises(ValueError, match="name at least one knob"):
        at_defaults(knobs)


def test_a_claim_fails_with_its_statement_at_the_defaults(capsys):
    claim = Claims({"SEED": 2024}, SEED=2024)
    claim(1 < 2, "one is less than two")
    assert capsys.readouterr().out == "holds: one is less than two\n"
    with pytest.raises(ClaimError, match="^two is less than one$"):
        claim(2 < 1, "two is less than one")
    assert issubclass(ClaimError, AssertionError)


def test_with_a_knob_turned_a_claim_is_reported_not_asserted(capsys):
    claim = Claims({"SEED": 7}, SEED=2024)
    assert not claim.at_defaults and claim.changed == ["SEED"] and "SEED" in repr(claim)
    assert claim(False, "the bound set for the defaults") is None
    assert capsys.readouterr().out == "does NOT hold with these knobs: the bound set for the defaults\n"


def test_claims_refuse_what_is_not_a_claim():
    claim = Claims({"SEED": 2024}, SEED=2024)
    with pytest.raises(ValueError, match=r"\bstatement must be a non-empty string"):
        claim(True, " ")
    with pytest.raises(TypeError, match=r"\bstatement must be a string"):
        claim(True, 3)
