"""Expected-value helpers of the polyglot tests and the comparison rules.

The rules follow RethinkDB's own Python test driver (test/rql_test/drivers/driver.py):

* ``None`` expects exactly None; a missing expectation means "anything but an error";
* numbers compare by value (int 1 equals float 1.0) within ``precision`` (default 0,
  set per test through ``testopts``); ``int_cmp`` / ``float_cmp`` also demand the type;
  unlike upstream, booleans and numbers never match each other;
* dicts need the same keys (a subset with ``partial``); lists compare in order (any order
  with ``bag``); any iterable result (a cursor) is read like a list;
* ``err(type, message)`` matches an exception of that class (or a subclass) whose bare
  message, with the printed query cut off, equals the message; ``err_regex`` matches the
  message against a regex from its start; the frames argument is accepted and not checked,
  as upstream.
"""

from __future__ import annotations

import builtins
import re
from collections.abc import Iterable
from typing import Any


class Mismatch(str):
    """Why a comparison failed; falsy so ``if not compare(...)`` reads naturally."""

    def __bool__(self) -> bool:
        return False


class Options:
    """An expected value with comparison options (what bag/partial/int_cmp produce)."""

    def __init__(self, value: Any, **options: Any) -> None:
        self.value = value
        self.options = options

    def __repr__(self) -> str:
        if self.options == {"ordered": False}:
            return f"bag({self.value!r})"
        if self.options.get("partial"):
            return f"partial({self.value!r})"
        return f"options({self.options}, {self.value!r})"


class Anything:
    """Any value that is not an error."""

    def __repr__(self) -> str:
        return "anything()"


class Regex:
    """A string matching a pattern (anchored at the start, like ``re.match``)."""

    def __init__(self, pattern: str) -> None:
        self.value = re.compile(pattern)

    def matches(self, other: Any) -> bool:
        return isinstance(other, str) and self.value.match(other) is not None

    def __repr__(self) -> str:
        return f"regex({self.value.pattern!r})"


class Uuid(Regex):
    def __init__(self) -> None:
        super().__init__(r"^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$")

    def __repr__(self) -> str:
        return "uuid()"


class Err:
    """An expected error: class (resolved against the driver under test) and message."""

    # The driver's str(error) appends " in:\n<query>"; only the first part is compared.
    _QUERY_SUFFIX = re.compile(r"^(?P<message>[^\n]*?)((?: in)?:\n|\nFailed assertion:).*$", re.S)

    def __init__(
        self, err_type: Any, message: str | re.Pattern | None, frames: Any, namespace: Any
    ) -> None:
        self.err_type = _resolve_error(err_type, namespace)
        self.message = message
        self.frames = frames

    def __repr__(self) -> str:
        message = self.message
        if isinstance(message, re.Pattern):
            message = "~" + message.pattern
        return f"err({self.err_type.__name__}, {message!r})"


def _resolve_error(err_type: Any, namespace: Any) -> type:
    if isinstance(err_type, type) and issubclass(err_type, BaseException):
        return err_type
    found = getattr(namespace, str(err_type), None) or getattr(builtins, str(err_type), None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ValueError(f"unknown error type {err_type!r}")
    return found


def error_message(error: BaseException) -> str:
    """The bare message of an error, the way the upstream driver compares it."""
    message = getattr(error, "message", None)
    text = str(message) if message is not None else str(error)
    return Err._QUERY_SUFFIX.sub(r"\g<message>:", text)


_DEFAULTS = {"ordered": True, "partial": False, "precision": 0.0, "explicit_type": None}


def compare(expected: Any, result: Any, options: dict | None = None) -> bool | Mismatch:
    """True when ``result`` satisfies ``expected``, else a :class:`Mismatch` saying why."""
    opts = dict(_DEFAULTS)
    if options:
        opts.update(options)
    opts["explicit_type"] = None  # explicit types apply to one level only
    if isinstance(expected, Options):
        opts.update(expected.options)
        expected = expected.value
    if isinstance(expected, type):
        if issubclass(expected, BaseException):  # a bare error class matches by type
            if isinstance(result, expected):
                return True
            return Mismatch(f"expected error {expected.__name__}, got {result!r}")
        expected = expected()

    if opts["explicit_type"] and (
        not isinstance(result, opts["explicit_type"]) or isinstance(result, bool)
    ):
        return Mismatch(f"expected type {opts['explicit_type']}, got {result!r}")
    if isinstance(expected, Anything):
        if isinstance(result, BaseException):
            return Mismatch(f"expected anything() but got error: {result!r}")
        return True
    if isinstance(result, BaseException) and not isinstance(expected, (Err, BaseException)):
        return Mismatch(f"expected {expected!r} but got error: {result!r}")
    if expected is None:
        return True if result is None else Mismatch(f"expected None, got {result!r}")
    if isinstance(expected, bool) or isinstance(result, bool):
        if type(expected) is type(result) and expected == result:
            return True
        return Mismatch(f"expected {expected!r}, got {result!r}")
    if isinstance(expected, (int, float)):
        return _compare_number(expected, result, opts["precision"])
    if isinstance(expected, str):
        return True if result == expected else Mismatch(f"{result!r} is not {expected!r}")
    if isinstance(expected, dict):
        return _compare_dict(expected, result, opts)
    if isinstance(expected, (Err, BaseException)):
        return _compare_error(expected, result, opts)
    if isinstance(expected, Regex):
        return True if expected.matches(result) else Mismatch(f"{result!r} !~ {expected!r}")
    if isinstance(expected, re.Pattern):
        ok = isinstance(result, str) and expected.match(result)
        return True if ok else Mismatch(f"{result!r} !~ {expected.pattern!r}")
    if isinstance(expected, Iterable) and not isinstance(expected, (bytes, bytearray)):
        return _compare_sequence(expected, result, opts)
    if not isinstance(result, type(expected)) and not isinstance(expected, type(result)):
        return Mismatch(f"expected type {type(expected).__name__}, got {result!r}")
    return True if result == expected else Mismatch(f"expected {expected!r}, got {result!r}")


def _compare_number(expected: float, result: Any, precision: float) -> bool | Mismatch:
    if not isinstance(result, (int, float)):
        return Mismatch(f"expected number {expected!r}, got {result!r}")
    if abs(expected - result) <= precision:
        return True
    if precision:
        return Mismatch(f"{result!r} is not within {precision!r} of {expected!r}")
    return Mismatch(f"{result!r} is not {expected!r}")


def _compare_dict(expected: dict, result: Any, opts: dict) -> bool | Mismatch:
    if not isinstance(result, dict):
        return Mismatch(f"expected an object, got {result!r}")
    want, have = set(expected), set(result)
    if opts["partial"]:
        if not want <= have:
            return Mismatch(f"missing keys: {sorted(map(str, want - have))}")
    elif want != have:
        return Mismatch(f"keys differ: {sorted(map(str, want ^ have))}")
    for key, value in expected.items():
        outcome = compare(value, result[key], opts)
        if not outcome:
            return Mismatch(f"at {key!r}: {outcome}")
    return True


def _compare_sequence(expected: Iterable, result: Any, opts: dict) -> bool | Mismatch:
    if isinstance(result, (str, dict)) or not isinstance(result, Iterable):
        return Mismatch(f"expected a sequence, got {result!r}")
    items = list(result)
    if opts["ordered"]:
        position = 0
        for needle in expected:
            while True:
                if position >= len(items):
                    return Mismatch(f"ran out of results before finding {needle!r}")
                straw = items[position]
                position += 1
                if compare(needle, straw, opts):
                    break
                if not opts["partial"]:
                    return Mismatch(f"got {straw!r} while looking for {needle!r}")
        if not opts["partial"] and position < len(items):
            return Mismatch(f"found extra results: {items[position:]!r}")
        return True
    for needle in expected:
        for i, straw in enumerate(items):
            if compare(needle, straw, opts):
                del items[i]
                break
        else:
            return Mismatch(f"missing expected item {needle!r}")
    if items and not opts["partial"]:
        return Mismatch(f"extra items returned: {items!r}")
    return True


def _compare_error(expected: Err | BaseException, result: Any, opts: dict) -> bool | Mismatch:
    err_type = expected.err_type if isinstance(expected, Err) else type(expected)
    if not isinstance(result, err_type):
        return Mismatch(f"expected error {err_type.__name__}, got {result!r}")
    message = expected.message if isinstance(expected, Err) else None
    if message:
        actual = error_message(result)
        if isinstance(message, re.Pattern):
            if not message.match(actual):
                return Mismatch(f"error message {actual!r} !~ {message.pattern!r}")
        elif actual != message:
            return Mismatch(f"error message {actual!r} is not {message!r}")
    return True


# -- the helper functions the expected values call ------------------------------------------


def bag(expected: Any, ordered: bool = False, partial: bool | None = None) -> Options:
    """A list whose items may come in any order."""
    options: dict[str, Any] = {"ordered": ordered}
    if partial is not None:
        options["partial"] = partial
    if isinstance(expected, Options):
        options = {**expected.options, **options}
        expected = expected.value
    if not isinstance(expected, (list, tuple)):
        raise TypeError(f"bag() needs a list, got {expected!r}")
    return Options(expected, **options)


def partial(expected: Any, ordered: bool = False, partial: bool = True) -> Options:
    """A dict (or list) that may have more keys (or items) than given."""
    options = {"ordered": ordered, "partial": partial}
    if isinstance(expected, Options):
        options = {**expected.options, **options}
        expected = expected.value
    if not isinstance(expected, (dict, list, tuple)):
        raise TypeError(f"partial() needs a dict or list, got {expected!r}")
    return Options(expected, **options)


def arrlen(length: int, thing: Any = None) -> list:
    """A list of ``length`` items, each matching ``thing`` (anything by default)."""
    return [Anything() if thing is None else thing] * length


def uuid() -> Uuid:
    return Uuid()


def regex(value: str) -> Regex:
    return Regex(value)


def int_cmp(value: int) -> Options:
    """An integer, and it must come back as an int."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"int_cmp needs an int, got {value!r}")
    return Options(value, explicit_type=int)


def float_cmp(value: float) -> Options:
    """A float, and it must come back as a float."""
    if not isinstance(value, float):
        raise TypeError(f"float_cmp needs a float, got {value!r}")
    return Options(value, explicit_type=float)


def repeat(thing: Any, count: int) -> list:
    """``count`` copies of ``thing`` (a list); strings repeat as strings."""
    return thing * count if isinstance(thing, str) else [thing] * count
