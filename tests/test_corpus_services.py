"""Real services from PyPI (tests/services/corpus.json, docs/corpus.md) against the interpreter as oracle,
started as their launcher and framework start them.

What is asserted is what is true today; what the framework loaders of issue 10 must achieve is asserted too,
as ``xfail(strict=True)`` where it does not hold yet, so each flips to a failure (to be unmarked) the day it
holds:

- every error finding on a clean service, with its real entries and in default mode, is a real failure (the
  oracle or a recorded verdict shows it); known false alarms are listed in ``today.false`` and no new one may
  appear;
- the closure from the real entries holds every module the started service loaded;
- each injected breakage really crashes the started service where recorded, and is an error finding where
  ``catch`` says, said to fail at import or start-up (not "when called"), from the real entries (with a
  chain from one of them) and with every module as an entry.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "services"))

import breakages  # noqa: E402
import corpus  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                                                   reason="pins were resolved for Python 3.11")]

SERVICES = corpus.services()
MODES = {"entries": "with the real entries", "default": "in default mode (every module an entry)"}
SUMMARIES = corpus.CACHE / "corpus-summaries"  # deploycheck's summary cache, shared by the checks below


class _Runs:
    """Everything a test needs, computed once per session: the clean copy, its start, checks and verdicts,
    and the outcome of each breakage."""

    def __init__(self, factory) -> None:
        self.factory = factory
        self.cache: dict = {}

    def _once(self, key, make):
        if key not in self.cache:
            self.cache[key] = make()
        return self.cache[key]

    def clean(self, name: str):
        def make():
            svc = corpus.service(name)
            python = corpus.environment(svc)
            project = corpus.project_copy(python, svc["packages"], self.factory.mktemp(name) / "project",
                                          svc.get("contents", False))
            return svc, python, project, corpus.start(svc, python, project)
        return self._once(("clean", name), make)

    def check(self, name: str, mode: str):
        def make():
            svc, python, project, _ = self.clean(name)
            return corpus.deploycheck(project, python, svc["entries"] if mode == "entries" else [], SUMMARIES)
        return self._once(("check", name, mode), make)

    def verdicts(self, name: str, mode: str) -> corpus.Verdicts:
        def make():
            svc, python, project, _ = self.clean(name)
            return corpus.judge(svc, python, project, self.check(name, mode))
        return self._once(("verdicts", name, mode), make)

    def breakage(self, name: str, bid: str) -> dict:
        def make():
            svc, python, _, _ = self.clean(name)
            b = next(b for b in svc["breakages"] if b["id"] == bid)
            return breakages.outcome(svc, python, b, self.factory.mktemp(f"{name}-{bid}"))
        return self._once(("breakage", name, bid), make)


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    return _Runs(tmp_path_factory)


def _params_false(strict_target: bool):
    out = []
    for svc in SERVICES:
        for mode in MODES:
            known = svc["today"]["false"][mode]
            marks = []
            if strict_target and known:
                marks.append(pytest.mark.xfail(strict=True, reason=f"{len(known)} false error(s) today: "
                                               + "; ".join(sorted(known))))
            out.append(pytest.param(svc["name"], mode, marks=marks, id=f"{svc['name']}-{mode}"))
    return out


@pytest.mark.parametrize("name", [s["name"] for s in SERVICES])
def test_clean_service_starts(runs, name):
    svc, python, project, started = runs.clean(name)
    assert started.failure is None
    cov = corpus.coverage(started, {}, project, python)
    assert len(cov.started["service"]) >= svc["today"]["started"]["service"] * 0.9  # its own code really ran


@pytest.mark.parametrize(("name", "mode"), _params_false(strict_target=False))
def test_no_new_false_errors(runs, name, mode):
    svc = corpus.service(name)
    verdicts = runs.verdicts(name, mode)
    assert verdicts.unjudged == {}  # every call-time error needs a recorded verdict (real or false)
    assert set(verdicts.false) <= set(svc["today"]["false"][mode]), verdicts.false


@pytest.mark.parametrize(("name", "mode"), _params_false(strict_target=True))
def test_no_false_errors(runs, name, mode):
    assert runs.verdicts(name, mode).false == {}


def _params_coverage(strict_target: bool):
    out = []
    for svc in SERVICES:
        missed = svc["today"]["missed"]
        marks = []
        if strict_target and any(missed.values()):
            marks.append(pytest.mark.xfail(strict=True, reason="framework loader missing: "
                                           + "; ".join(svc["today"]["missed_steps"])))
        out.append(pytest.param(svc["name"], marks=marks, id=svc["name"]))
    return out


@pytest.mark.parametrize("name", _params_coverage(strict_target=False))
def test_closure_misses_no_more_than_today(runs, name):
    svc, python, project, started = runs.clean(name)
    cov = corpus.coverage(started, runs.check(name, "entries").closure, project, python)
    for origin in ("service", "third-party"):
        assert len(cov.missed.get(origin, [])) <= svc["today"]["missed"][origin], origin


@pytest.mark.parametrize("name", _params_coverage(strict_target=True))
def test_closure_holds_every_started_module(runs, name):
    _, python, project, started = runs.clean(name)
    cov = corpus.coverage(started, runs.check(name, "entries").closure, project, python)
    assert {o: m for o, m in cov.missed.items() if o != "stdlib"} == {}


def _breakages():
    for svc in SERVICES:
        for b in svc["breakages"]:
            yield svc, b


@pytest.mark.parametrize(("name", "bid"), [pytest.param(s["name"], b["id"], id=f"{s['name']}-{b['id']}")
                                          for s, b in _breakages()])
def test_breakage_crashes_the_started_service(runs, name, bid):
    svc = corpus.service(name)
    b = next(b for b in svc["breakages"] if b["id"] == bid)
    crash = runs.breakage(name, bid)["crash"]
    assert crash is not None
    assert {k: crash[k] for k in ("step", "type", "file", "line")} == b["crash"]


def _params_caught():
    out = []
    for svc, b in _breakages():
        for mode in MODES:
            marks = []
            if not b["today"][mode]["caught"]:
                marks.append(pytest.mark.xfail(strict=True, reason=b["today"][mode]["reason"]))
            out.append(pytest.param(svc["name"], b["id"], mode, marks=marks,
                                    id=f"{svc['name']}-{b['id']}-{mode}"))
    return out


@pytest.mark.parametrize(("name", "bid", "mode"), _params_caught())
def test_breakage_is_an_error(runs, name, bid, mode):
    svc = corpus.service(name)
    got = runs.breakage(name, bid)[mode]
    assert got["caught"], got
    assert got["when"] != "call", got  # every breakage here crashes the start: a deploy failure
    if mode == "entries":  # the chain starts at a real entry (a module, or the module of `module:factory()`)
        assert got["chain"] and got["chain"][0] in {e.partition(":")[0] for e in svc["entries"]}, got["chain"]
