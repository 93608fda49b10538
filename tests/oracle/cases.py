"""Assertions shared by the recorded-incident corpora (broken.json, heldout.json)."""

from __future__ import annotations


def assert_reported(case: dict, result) -> None:
    """The finding the case records must be there: code, file, line, symbol, owner, and a chain from the
    project's own import."""
    exp = case["expected"]
    matches = [f for f in result.findings if f.code == exp["code"] and f.symbol == exp["symbol"]
               and f.path.endswith("site-packages/" + exp["path_suffix"])]
    assert matches, [(f.code, f.module, f.line, f.symbol, f.message) for f in result.findings]
    f = matches[0]
    assert f.severity == "error"
    assert f.module == exp["module"]
    assert exp["line"] <= f.line <= exp["line"] + 20  # a multi-line statement is reported at the name
    assert f.distribution == (exp["distribution"]["name"], exp["distribution"]["version"])
    missing_from = exp.get("missing_from") or {}
    if exp["code"] == "DC102" and exp.get("imported"):
        assert f"from '{exp['imported']}'" in f.message
        if missing_from.get("distribution", "<stdlib>") != "<stdlib>":
            assert f"{missing_from['distribution']} {missing_from['version']}" in f.message
    assert f.chain and f.chain[0].module == "service" and f.chain[0].line == 1
    assert any(h.module == case["entry"] for h in f.chain) or f.module == case["entry"]
    assert result.errors >= 1
