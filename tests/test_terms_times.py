"""Time terms run through the engine, with RethinkDB's values and error texts.

Queries are built with the official driver's builder and serialised to wire JSON (no
network). Expected values come from RethinkDB's own tests (reql-tests/times/*.yaml) and its
source (src/rdb_protocol/pseudo_time.cc).
"""

from __future__ import annotations

import pytest
import rethinkdb

from engine_harness import error
from engine_harness import evaluate as run
from rethought.errors import ReqlCompileError, ReqlQueryLogicError
from rethought.server.runtime.times_calc import civil_from_days, days_from_civil, sanitize_time

r = rethinkdb.r
T1 = r.time(2013, r.july, 29, 23, 30, 0, "+00:00")
RT = 1375147296.681


def fails(query, message, cls=ReqlQueryLogicError):
    assert error(run, query, cls).message == message


def time(epoch, tz="+00:00"):
    return {"$reql_type$": "TIME", "epoch_time": epoch, "timezone": tz}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (r.epoch_time(1).to_epoch_time(), 1),
        (r.epoch_time(-1).to_epoch_time(), -1),
        (r.epoch_time(1.4444445).to_epoch_time(), 1.444),
        (r.epoch_time(1.4444445).to_iso8601(), "1970-01-01T00:00:01.444+00:00"),
        (r.epoch_time(1.001).to_iso8601(), "1970-01-01T00:00:01.001+00:00"),
        (r.epoch_time(2.058).to_iso8601(), "1970-01-01T00:00:02.058+00:00"),
        (r.epoch_time(1.4444445).seconds(), 1.444),
        (r.epoch_time(253430000000).year(), 10000),
        (r.epoch_time(-17980000000).year(), 1400),
        (r.epoch_time(253440000000).to_epoch_time(), 253440000000),
        (r.epoch_time(RT), time(RT)),
        (r.time(2013, 7, 29, "Z"), time(1375056000)),
        (r.time(2013, 7, 29, 23, 30, 0.5, "+01"), time(1375137000.5, "+01:00")),
        (T1.in_timezone("-01:01").timezone(), "-01:01"),
        (T1.in_timezone("Z").timezone(), "+00:00"),
        (T1.in_timezone("+0100").day(), 30),
        (T1.in_timezone("-00:59").day(), 29),
        (T1.in_timezone("+01:00") - T1, 0),
        (
            r.epoch_time(1436428422.339).in_timezone("-08:00").date().to_iso8601(),
            "2015-07-08T00:00:00-08:00",
        ),
        (
            r.epoch_time(1436428422.339).in_timezone("-07:00").date().to_iso8601(),
            "2015-07-09T00:00:00-07:00",
        ),
        (r.epoch_time(RT).date().to_epoch_time(), 1375142400),
        (r.epoch_time(RT).time_of_day(), 4896.681),
        (r.epoch_time(2375147296.681).time_of_day(), 11296.681),
        (
            r.epoch_time(RT).do(
                lambda x: [
                    x.year(),
                    x.month(),
                    x.day(),
                    x.hours(),
                    x.minutes(),
                    x.seconds(),
                    x.day_of_week(),
                    x.day_of_year(),
                ]
            ),
            [2013, 7, 30, 1, 21, 36.681, 2, 211],
        ),
        (
            r.epoch_time(RT)
            .do(
                lambda x: r.time(
                    x.year(), x.month(), x.day(), x.hours(), x.minutes(), x.seconds(), x.timezone()
                )
            )
            .to_epoch_time(),
            RT,
        ),
        (r.epoch_time(RT).do(lambda x: x.date() + x.time_of_day()).to_epoch_time(), RT),
        (r.epoch_time(RT + 1) - r.epoch_time(RT), 1),
        ((r.epoch_time(RT) + 0.0004).to_epoch_time(), RT),
        (r.expr([r.monday, r.sunday, r.january, r.december]), [1, 7, 1, 12]),
        (r.expr(time(1.23456, "Z")).to_epoch_time(), 1.235),
        (r.expr(time(5, "+0700")).timezone(), "+07:00"),
    ],
)
def test_values(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"{d}T{t}{z}"
        for d in ["2013", "2013-01", "2013-01-01", "20130101", "2013-001", "2013001"]
        for t in ["13", "13:00", "1300", "13:00:00", "13:00:00.000000", "130000.000000"]
        for z in ["Z", "+00", "+0000", "+00:00"]
    ],
)
def test_iso8601_accepted_forms(text):
    assert run(r.iso8601(text).to_iso8601()) == "2013-01-01T13:00:00+00:00"


@pytest.mark.parametrize(
    "text",
    [
        *(f"{d}T13:00Z" for d in ["201301", "2013-0101", "2a13", "2013+01", "2013-01-01.1"]),
        *(f"2013-01-01T{t}Z" for t in ["a3", "13:0000", "13:000", "13:00.00", "130000.0a"]),
        *(f"2013-01-01T13:00{z}" for z in ["X", "-7", "-07:-1", "+07+01", "PST", "UTC", "Z+00"]),
        "2013-W01-1T13:00Z",
        "2013-02-30T13:00Z",
        "2013-13-01T13:00Z",
        "2013-01-01",
    ],
)
def test_iso8601_rejected_forms(text):
    with pytest.raises(ReqlQueryLogicError):
        run(r.iso8601(text))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            r.iso8601("2013-01-01", default_timezone="-07:00").to_iso8601(),
            "2013-01-01T00:00:00-07:00",
        ),
        (r.iso8601("2013-01-01T10:11:12.5+01:30").to_epoch_time(), 1357029672.5),
        (r.iso8601("2012-366T00:00Z").to_iso8601(), "2012-12-31T00:00:00+00:00"),
        (r.iso8601("2013-01-01T00:00:00.0004Z").to_epoch_time(), 1356998400),
    ],
)
def test_iso8601_values(query, expected):
    assert run(query) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (r.now().in_timezone(""), "Timezone `` does not start with `-` or `+`."),
        (r.now().in_timezone("-00"), "`-00` is not a valid time offset."),
        (r.now().in_timezone("-00:00"), "`-00:00` is not a valid time offset."),
        (r.now().in_timezone("UTC+00"), "Timezone `UTC+00` does not start with `-` or `+`."),
        (r.now().in_timezone("+00:60"), "Minutes out of range in `+00:60`."),
        (r.now().in_timezone("+25:00"), "Hours out of range in `+25:00`."),
        (r.time(2013, 1, 1, "+25:00"), "Hours out of range in `+25:00`."),
        (
            r.time(2013, 1, 1, "+01:00x"),
            "Garbage characters `x` at end of timezone string `+01:00x`.",
        ),
        (r.time(2013, 2, 29, "Z"), "Error in time logic: Day of month is not valid for year."),
        (r.time(2013, 13, 1, "Z"), "Error in time logic: Month number is out of range 1..12."),
        (r.time(1399, 1, 1, "Z"), "Error in time logic: Year is out of valid range: 1400..10000."),
        (r.time(2013, 1, 1, 0, 0, "Z"), "Got 6 arguments to TIME (expected 4 or 7)."),
        (r.time(2013.5, 1, 1, "Z"), "Number not an integer: 2013.5"),
        (
            r.epoch_time(253430000000).to_iso8601(),
            "Year `10000` out of valid ISO 8601 range [0, 9999].",
        ),
        (
            r.epoch_time(253440000000).year(),
            "Error in time logic: Year is out of valid range: 1400..10000.",
        ),
        (
            r.epoch_time(-17990000000).year(),
            "Error in time logic: Year is out of valid range: 1400..10000.",
        ),
        (r.expr(1).to_epoch_time(), "Not a TIME pseudotype: `1`."),
        (r.epoch_time("a"), "Expected type NUMBER but found STRING."),
        (
            r.iso8601("2013-01-01T13:00"),
            "ISO 8601 string has no time zone, and no default time zone was provided.",
        ),
        (r.iso8601("2013-01-01T13:0000Z"), "Time string `13:0000` must have 0 or 2 colons."),
        (r.iso8601("2013-0101"), "Date string `2013-0101` must have 0 or 2 hyphens."),
        (
            r.epoch_time(1).during(r.epoch_time(0), r.epoch_time(2), left_bound="x"),
            'Expected `open` or `closed` for optarg `left_bound` (got `"x"`).',
        ),
        (
            r.expr({"$reql_type$": "TIME", "epoch_time": 1}).to_epoch_time(),
            'Invalid time object constructed (no field `timezone`):\n{\n\t"$reql_type$":\t"TIME",'
            '\n\t"epoch_time":\t1\n}',
        ),
        ((T1 + T1), "Expected type NUMBER but found PTYPE<TIME>."),
    ],
)
def test_errors(query, message):
    fails(query, message)


def test_time_arity_is_a_compile_error():
    fails(r.time(2013, 1, "Z"), "Expected between 4 and 7 arguments but found 3.", ReqlCompileError)


def test_during_bounds():
    ts = [r.epoch_time(x) for x in (1, 2, 3)]
    assert run(ts[1].during(ts[0], ts[2])) is True
    assert run(ts[0].during(ts[0], ts[2])) is True
    assert run(ts[0].during(ts[0], ts[2], left_bound="open")) is False
    assert run(ts[2].during(ts[0], ts[2])) is False
    assert run(ts[2].during(ts[0], ts[2], right_bound="closed")) is True


def test_now_is_fixed_per_query():
    a, b = run(r.expr([r.now(), r.now()]))
    assert a == b and a["timezone"] == "+00:00"


def test_sanitize_time_messages():
    with pytest.raises(ReqlQueryLogicError) as info:
        sanitize_time({"$reql_type$": "TIME", "epoch_time": "x", "timezone": "Z"})
    assert info.value.message.startswith(
        "Invalid time object constructed (field `epoch_time` must be a number "
        '(got `"x"` of type STRING)):'
    )
    with pytest.raises(ReqlQueryLogicError) as info:
        sanitize_time({"$reql_type$": "TIME", "epoch_time": 1, "timezone": "PST"})
    assert '(invalid timezone string `"PST"`)' in info.value.message
    with pytest.raises(ReqlQueryLogicError) as info:
        sanitize_time({"$reql_type$": "TIME", "epoch_time": 1, "timezone": "Z", "x": 1})
    assert "(unrecognized field `x`)" in info.value.message


@pytest.mark.parametrize("days", [-210000, -1, 0, 59, 365, 10957, 2932896])
def test_calendar_round_trip(days):
    assert days_from_civil(*civil_from_days(days)) == days
