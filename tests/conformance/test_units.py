"""The conformance runner's own pieces: polyglot reader, step extraction, matchers."""

from __future__ import annotations

import os

import pytest

from . import cases, matchers, polyglot, scope
from .runner import DEFAULT_ROOT

SAMPLE = """\
desc: sample
table_variable_name: tbl, tbl2
tests:

    # comment
    - py: r.expr(1).do(lambda v: v * 2)
      js: r.expr(1).do(function(v) { return v.mul(2); })
      ot: 2

    - def: x = {'a':null}
    - cd:
        - tbl.insert({'id':1})
        - tbl.insert({'id':2})
      ot: partial({'inserted':1})
    - rb: only_ruby()
      ot: 1
    - cd: feed = tbl.changes()
    - py: |
        r.expr([1,
            2])
      runopts:
        max_batch_rows: 1
      ot:
        js: [1]
        cd: [1, 2]
    - py: r.expr('x')
      py3: r.expr('y')
     - cd: r.expr('odd indent')
       ot: "'odd indent'"
"""


def test_polyglot_reads_structure():
    data = polyglot.parse(SAMPLE)
    assert data["table_variable_name"] == "tbl, tbl2"
    first = data["tests"][0]
    assert first["py"] == "r.expr(1).do(lambda v: v * 2)"
    assert first["ot"] == "2" and first["ot"].line == 8
    assert data["tests"][2]["cd"] == ["tbl.insert({'id':1})", "tbl.insert({'id':2})"]
    assert data["tests"][5]["py"] == "r.expr([1,\n2])"
    assert data["tests"][5]["runopts"] == {"max_batch_rows": "1"}
    assert data["tests"][-1]["cd"] == "r.expr('odd indent')"


def test_steps_for_python(tmp_path):
    path = tmp_path / "sample.yaml"
    path.write_text(SAMPLE)
    loaded = cases.load(str(path), str(tmp_path))
    assert loaded.error is None and loaded.tables == ["tbl", "tbl2"]
    kinds = [type(s).__name__ for s in loaded.steps]
    assert kinds == ["Query", "Define", "Query", "Query", "Query", "Query", "Query", "Query"]
    define = loaded.steps[1]
    assert (define.target, define.expr) == ("x", "{'a':None}")
    feed = loaded.steps[4]
    assert (feed.variable, feed.src, feed.expected) == ("feed", "tbl.changes()", None)
    multi = loaded.steps[5]
    assert multi.expected == "[1, 2]" and multi.runopts == {"max_batch_rows": "1"}
    assert loaded.steps[6].src == "r.expr('y')"  # py3 beats py


def test_every_suite_file_loads():
    if not os.path.isdir(DEFAULT_ROOT):
        pytest.skip("polyglot tests not present")
    for path in cases.discover(DEFAULT_ROOT):
        loaded = cases.load(path, DEFAULT_ROOT)
        assert loaded.error is None, (loaded.name, loaded.error)


class FakeR:
    class ReqlError(Exception):
        def __init__(self, message):
            super().__init__(message)
            self.message = message

    class ReqlQueryLogicError(ReqlError):
        pass

    class ReqlTimeoutError(ReqlError):
        def __init__(self, message="timed out"):
            super().__init__(message)


def check(expected_src: str, result):
    namespace = scope.build(FakeR, None)
    return matchers.compare(eval(expected_src, namespace), result)


@pytest.mark.parametrize(
    "expected, result",
    [
        ("1", 1.0),
        ("None", None),
        ("'a'", "a"),
        ("[1, 2]", iter([1, 2])),
        ("bag([1, 2])", [2, 1]),
        ("partial({'a':1})", {"a": 1, "b": 2}),
        ("partial([1, 3])", [1, 2, 3]),
        ("{'a': [1, {'b': 2}]}", {"a": [1, {"b": 2}]}),
        ("arrlen(3)", [1, "x", None]),
        ("arrlen(2, 0)", [0, 0]),
        ("uuid()", "123e4567-e89b-12d3-a456-426614174000"),
        ("int_cmp(3)", 3),
        ("float_cmp(3.0)", 3.0),
        ("anything()", {"x": 1}),
        ("err('ReqlQueryLogicError', 'Bad.')", FakeR.ReqlQueryLogicError("Bad.")),
        ("err('ReqlError', 'Bad.', [0])", FakeR.ReqlQueryLogicError("Bad.")),
        ("err_regex('ReqlQueryLogicError', 'B.*')", FakeR.ReqlQueryLogicError("Bad.")),
        ("err('TypeError')", TypeError("whatever")),
        ("err('ValueError', 'no good:')", ValueError("no good in:\nr.expr(1)\n^^")),
        ("regex('ab+')", "abbb"),
        ("repeat('ab', 2)", "abab"),
        ("[1, r.ReqlTimeoutError()]", [1, FakeR.ReqlTimeoutError()]),
        ("datetime.fromtimestamp(0, UTCTimeZone())", __import__("datetime").datetime(1970, 1, 1, tzinfo=__import__("datetime").timezone.utc)),
    ],
)  # fmt: skip
def test_matches(expected, result):
    assert check(expected, result)


@pytest.mark.parametrize(
    "expected, result",
    [
        ("1", 2),
        ("1", "1"),
        ("True", 1),
        ("1", True),
        ("None", 0),
        ("[1, 2]", [2, 1]),
        ("[1, 2]", [1, 2, 3]),
        ("{'a':1}", {"a": 1, "b": 2}),
        ("bag([1, 2])", [1, 1]),
        ("int_cmp(3)", 3.0),
        ("float_cmp(3.0)", 3),
        ("anything()", FakeR.ReqlQueryLogicError("x")),
        ("1", FakeR.ReqlQueryLogicError("x")),
        ("err('ReqlQueryLogicError', 'Bad.')", FakeR.ReqlQueryLogicError("Worse.")),
        ("err('ReqlQueryLogicError', 'Bad.')", 1),
        ("err('TypeError')", ValueError("x")),
        ("uuid()", "not-a-uuid"),
        ("[1, 2]", {"a": 1}),
    ],
)
def test_mismatches(expected, result):
    outcome = check(expected, result)
    assert not outcome and isinstance(outcome, str)


def test_fetch_marks_a_shortfall():
    class Feed:
        def __init__(self):
            self.items = [1]

        def next(self, wait=None):
            if self.items:
                return self.items.pop()
            raise FakeR.ReqlTimeoutError()

    fetched = scope.make_fetch(FakeR)(Feed(), 2, timeout=0.05)
    assert fetched[0] == 1 and isinstance(fetched[1], FakeR.ReqlTimeoutError)
