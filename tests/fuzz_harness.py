"""Fuzzing the driver port: generators of connection scripts (handshakes of every protocol
version, SCRAM messages, frame headers, query JSON) and of ReQL term trees (well-typed, and
ill-typed by mutation), plus the client that sends them over raw sockets and the checks.

Shared by tests/test_fuzz_wire.py and tests/test_fuzz_terms.py (short hypothesis runs in CI)
and bench/fuzz.py (the long run). The generators take a ``random.Random``; hypothesis drives
them with ``st.randoms()`` (so failures shrink), the long run with plain seeds.

What every input must get (``Violation`` otherwise): an answer or a clean close within a
deadline (no hang); for every well-framed query a response with its token (no unanswered
query); every error a ReQL error with a non-empty message, never INTERNAL, never Python's
exception text; and the server process alive and answering afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import random
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from rethought.proto.ql2 import TermType as T

V0_1, V0_2, V0_3, V0_4, V1_0 = 0x3F61BA36, 0x723081E1, 0x5F75E83E, 0x400C2D20, 0x34C2BDC3
JSON_PROTOCOL, PROTOBUF = 0x7E6970C7, 0x271FFC41
START, CONTINUE, STOP, NOREPLY_WAIT, SERVER_INFO = 1, 2, 3, 4, 5
SUCCESS_PARTIAL = 3
ERROR_TYPES = {16, 17, 18}
INTERNAL = 1000000
DEADLINE = 20.0  # seconds an input may take before it counts as a hang
TABLE = "fz"

# Python's own exception texts: none of these may reach a client.
PYTHON_TEXT = re.compile(
    r"Traceback|Unexpected exception|object has no attribute|'NoneType'|NoneType|<class '"
    r"|built-in|positional argument|unhashable type|object is not (?:callable|iterable|"
    r"subscriptable)|unsupported operand|list index out of range|invalid literal for"
    r"|object of type|can't multiply|must be str|codec can't|\bself\b|__\w+__|\.py\b"
    r"|KeyError|TypeError|AttributeError|ValueError|IndexError|RecursionError"
)


class Violation(AssertionError):
    """An input the server answered wrongly (or not at all)."""


# -- the client ------------------------------------------------------------------------------


def _recv_until_nul(sock: socket.socket, limit: int = 1 << 16) -> bytes:
    buf = bytearray()
    while not buf.endswith(b"\0"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError(f"closed after {bytes(buf)!r}")
        buf += chunk
        if len(buf) > limit:
            raise Violation("handshake reply without an end")
    return bytes(buf[:-1])


def scram_client_first(user: str = "admin") -> tuple[str, str]:
    nonce = base64.b64encode(os.urandom(18)).decode()
    return f"n={user},r={nonce}", nonce


def scram_final(password: str, first_bare: str, server_first: str) -> str:
    """The RFC 5802 client-final message for ``server_first``."""
    attrs = dict(kv.split("=", 1) for kv in server_first.split(",") if "=" in kv)
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    without_proof = f"c=biws,r={attrs['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    signature = hmac.new(hashlib.sha256(client_key).digest(), auth_message, hashlib.sha256)
    proof = bytes(a ^ b for a, b in zip(client_key, signature.digest(), strict=True))
    return f"{without_proof},p={base64.b64encode(proof).decode()}"


def handshake(sock: socket.socket) -> None:
    """A correct V1_0 handshake as admin without a password."""
    first_bare, _ = scram_client_first()
    sock.sendall(
        struct.pack("<I", V1_0)
        + json.dumps(
            {
                "protocol_version": 0,
                "authentication_method": "SCRAM-SHA-256",
                "authentication": "n,," + first_bare,
            }
        ).encode()
        + b"\0"
    )
    json.loads(_recv_until_nul(sock))
    reply = json.loads(_recv_until_nul(sock))
    final = scram_final("", first_bare, reply["authentication"])
    sock.sendall(json.dumps({"authentication": final}).encode() + b"\0")
    last = json.loads(_recv_until_nul(sock))
    if not last.get("success"):
        raise Violation(f"correct handshake refused: {last}")


def check_error_text(where: str, text: Any) -> None:
    if type(text) is not str or not text.strip():
        raise Violation(f"{where}: an error without a message: {text!r}")
    if PYTHON_TEXT.search(text):
        raise Violation(f"{where}: Python's exception text reached the client: {text!r}")


def check_response(query: Any, resp: Any) -> None:
    """A response must be RethinkDB-shaped; errors ReQL errors with a message."""
    if type(resp) is not dict or "t" not in resp or type(resp.get("r")) is not list:
        raise Violation(f"malformed response {resp!r} to {query!r}")
    if resp["t"] in ERROR_TYPES:
        if resp.get("e") == INTERNAL:
            raise Violation(f"INTERNAL error {resp['r']!r} for {str(query)[:2000]}")
        if len(resp["r"]) != 1:
            raise Violation(f"error response without one message: {resp!r}")
        check_error_text(f"query {str(query)[:2000]}", resp["r"][0])


class Conn:
    """One authenticated raw connection: pipelined queries, answers collected by token."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=DEADLINE)
        handshake(self.sock)
        self.buf = bytearray()

    def close(self) -> None:
        self.sock.close()

    def _read_frame(self, deadline: float) -> tuple[int, bytes] | None:
        while True:
            if len(self.buf) >= 12:
                token, size = struct.unpack_from("<qI", self.buf)
                if len(self.buf) >= 12 + size:
                    payload = bytes(self.buf[12 : 12 + size])
                    del self.buf[: 12 + size]
                    return token, payload
            left = deadline - time.monotonic()
            if left <= 0:
                raise Violation("no answer within the deadline (a hang)")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 16)
            except TimeoutError:
                raise Violation("no answer within the deadline (a hang)") from None
            if not chunk:
                return None
            self.buf += chunk

    def run(self, queries: list[Any]) -> list[dict]:
        """Send ``queries`` (wire JSON) at once with tokens 1..n; wait for every answer (a
        partial sequence is stopped); check each. Returns the final responses."""
        frames = []
        for i, q in enumerate(queries, 1):
            payload = q if type(q) is bytes else json.dumps(q).encode()
            frames.append(struct.pack("<qI", i, len(payload)) + payload)
        self.sock.sendall(b"".join(frames))
        pending = {
            i: q
            for i, q in enumerate(queries, 1)
            if not (type(q) is list and len(q) > 2 and type(q[2]) is dict and q[2].get("noreply")
                    in (True,))
        }  # fmt: skip
        out: dict[int, dict] = {}
        deadline = time.monotonic() + DEADLINE
        while pending:
            frame = self._read_frame(deadline)
            if frame is None:
                raise Violation(f"connection closed with {len(pending)} queries unanswered")
            token, payload = frame
            try:
                resp = json.loads(payload)
            except ValueError:
                raise Violation(f"response is not JSON: {payload[:200]!r}") from None
            if token not in pending:
                if token in out:
                    raise Violation(f"second final answer for token {token}: {resp}")
                continue  # an answer to a query that had noreply false-ish in odd ways
            check_response(pending[token], resp)
            if resp["t"] == SUCCESS_PARTIAL:
                stop = struct.pack("<qI", token, 3) + b"[3]"
                self.sock.sendall(stop)
                continue
            out[token] = resp
            del pending[token]
        return [out[i] for i in sorted(out)]


def still_serving(host: str, port: int) -> None:
    c = Conn(host, port)
    try:
        (resp,) = c.run([[START, [int(T.ADD), [1, 2]]]])
        if resp != {"t": 1, "r": [3]}:
            raise Violation(f"server no longer answers 1 + 2 right: {resp}")
    finally:
        c.close()


# -- ReQL term trees -------------------------------------------------------------------------


def term(tt: T, *args: Any, **optargs: Any) -> list:
    return [int(tt), list(args), optargs] if optargs else [int(tt), list(args)]


def arr(*xs: Any) -> list:
    return term(T.MAKE_ARRAY, *xs)


STRINGS = ["", "a", "id", "n", "s", "grp", "x y", "é", "💥", "2009-02-13T23:31:30Z", "1.5",
           "^a+$", "(", "string", "array", "object", "number", "NULL", "+01:00", "\x00", "%s"]  # fmt: skip
SORTS = ("num", "str", "bool", "arr", "obj", "seq", "time", "any")


@dataclass
class TermGen:
    """Random term trees of a sort; ``ill`` is the chance that an argument has the wrong
    sort, an extra or missing argument, an unknown optarg, or a random term type."""

    rnd: random.Random
    ill: float = 0.0
    max_depth: int = 5
    vars: list[int] = field(default_factory=list)

    def datum(self, depth: int = 0) -> Any:
        r = self.rnd
        k = r.randrange(9)
        if k == 0:
            return r.choice([0, 1, -1, 2, 7, 255, 2**53, -(2**53) - 1, 10**30, 3.5, -0.0, 1e308])
        if k == 1:
            return r.choice(STRINGS)
        if k == 2:
            return None
        if k == 3:
            return r.random() < 0.5
        if k == 4 and depth < 2:
            return arr(*[self.datum(depth + 1) for _ in range(r.randrange(4))])
        if k == 5 and depth < 2:
            return {r.choice(STRINGS[:7]): self.datum(depth + 1) for _ in range(r.randrange(3))}
        if k == 6:
            return r.randrange(-5, 60)
        if k == 7:
            return {"$reql_type$": r.choice(["TIME", "BINARY", "GEOMETRY", "GROUPED_DATA", "x"]),
                    **r.choice([{}, {"epoch_time": 1.5, "timezone": "+00:00"}, {"data": "AAE="},
                                {"epoch_time": "x"}, {"type": "Point", "coordinates": [1, 2]}])}  # fmt: skip
        return r.uniform(-1e6, 1e6)

    def gen(self, sort: str, depth: int = 0) -> Any:
        r = self.rnd
        if self.ill and r.random() < self.ill:
            return self._ill(depth)
        if depth >= self.max_depth or r.random() < 0.15:
            return self._leaf(sort)
        if sort == "any":
            sort = r.choice(SORTS[:-1])
        return getattr(self, "_" + sort)(depth + 1)

    def _ill(self, depth: int) -> Any:
        r = self.rnd
        k = r.randrange(4)
        if k == 0 or depth >= self.max_depth:
            return self.datum()
        if k == 1:  # any term type, any arguments
            return [
                r.choice(FUZZ_TERMS),
                [self.gen("any", depth + 1) for _ in range(r.randrange(4))],
            ]
        if k == 2:  # a well-formed tree with an optarg nobody knows or a wrong value
            t = self.gen(r.choice(SORTS), depth + 1)
            if type(t) is list and len(t) == 2:
                key = r.choice(["index", "left_bound", "default", "multi", "x", "durability",
                                "return_changes", "conflict", "squash", "interleave"])  # fmt: skip
                return [t[0], t[1], {key: self.datum()}]
            return t
        return [r.randrange(-3, 300), self.datum()]  # not even a term

    def _leaf(self, sort: str) -> Any:
        r = self.rnd
        if self.vars and r.random() < 0.3:
            return term(T.VAR, r.choice(self.vars))
        if sort == "num":
            return r.choice([0, 1, 2, -3, 0.5, 1e9, 2**60, r.randrange(-100, 100)])
        if sort == "str":
            return r.choice(STRINGS)
        if sort == "bool":
            return r.random() < 0.5
        if sort == "arr":
            return arr(*[self.datum() for _ in range(r.randrange(4))])
        if sort == "obj":
            return {r.choice(STRINGS[:7]): self.datum() for _ in range(r.randrange(3))}
        if sort == "seq":
            return term(T.TABLE, TABLE)
        if sort == "time":
            return term(T.EPOCH_TIME, r.choice([0, 1234567890.5, -1e10, 1e12]))
        return self.datum()

    def func(self, body_sort: str, depth: int, arity: int = 1) -> list:
        ids = [len(self.vars) + i + 1 for i in range(arity)]
        self.vars.extend(ids)
        try:
            body = self.gen(body_sort, depth)
        finally:
            del self.vars[-arity:]
        return term(T.FUNC, arr(*ids), body)

    def _num(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(12)
        if c < 5:
            op = [T.ADD, T.SUB, T.MUL, T.DIV, T.MOD][c]
            return term(op, g("num", d), g("num", d))
        if c == 5:
            return term(r.choice([T.FLOOR, T.CEIL, T.ROUND, T.BIT_NOT]), g("num", d))
        if c == 6:
            return term(T.COUNT, g(r.choice(["arr", "seq", "str", "obj"]), d))
        if c == 7:
            return term(r.choice([T.SUM, T.AVG, T.MIN, T.MAX]), g("arr", d))
        if c == 8:
            return term(T.RANDOM, g("num", d), g("num", d), float=r.random() < 0.5)
        if c == 9:
            return term(r.choice([T.YEAR, T.HOURS, T.DAY_OF_WEEK, T.TO_EPOCH_TIME]), g("time", d))
        if c == 10:
            return term(T.BRACKET, g("obj", d), g("str", d))
        return term(r.choice([T.BIT_AND, T.BIT_OR, T.BIT_SAL]), g("num", d), g("num", d))

    def _str(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(9)
        if c == 0:
            return term(T.ADD, g("str", d), g("str", d))
        if c == 1:
            return term(r.choice([T.UPCASE, T.DOWNCASE]), g("str", d))
        if c == 2:
            return term(T.TYPE_OF, g("any", d))
        if c == 3:
            return term(T.COERCE_TO, g("any", d), "string")
        if c == 4:
            return term(T.TO_JSON_STRING, g("any", d))
        if c == 5:
            return term(T.SLICE, g("str", d), g("num", d), g("num", d))
        if c == 6:
            return term(T.TO_ISO8601, g("time", d))
        if c == 7:
            return term(T.UUID, *([g("str", d)] if r.random() < 0.5 else []))
        return term(T.INFO, g("any", d))

    def _bool(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(7)
        if c == 0:
            op = r.choice([T.EQ, T.NE, T.LT, T.LE, T.GT, T.GE])
            return term(op, g("any", d), g("any", d))
        if c == 1:
            return term(r.choice([T.AND, T.OR]), g("bool", d), g("bool", d))
        if c == 2:
            return term(T.NOT, g("bool", d))
        if c == 3:
            return term(T.CONTAINS, g("arr", d), g("any", d))
        if c == 4:
            return term(T.HAS_FIELDS, g("obj", d), g("str", d))
        if c == 5:
            return term(T.IS_EMPTY, g(r.choice(["arr", "seq"]), d))
        return term(T.MATCH, g("str", d), r.choice(["a", "^(x|y)+$", "(", "\\d", "[", "(?i)é"]))

    def _arr(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(14)
        if c == 0:
            return arr(*[g("any", d) for _ in range(r.randrange(4))])
        if c == 1:
            return term(r.choice([T.APPEND, T.PREPEND]), g("arr", d), g("any", d))
        if c == 2:
            return term(T.MAP, g("arr", d), self.func("any", d))
        if c == 3:
            return term(T.FILTER, g("arr", d), self.func("bool", d))
        if c == 4:
            return term(T.ORDER_BY, g("arr", d), r.choice(["id", term(T.DESC, "n")]))
        if c == 5:
            return term(r.choice([T.LIMIT, T.SKIP, T.SAMPLE]), g("arr", d), g("num", d))
        if c == 6:
            return term(T.SPLIT, g("str", d), *([g("str", d)] if r.random() < 0.5 else []))
        if c == 7:
            return term(r.choice([T.KEYS, T.VALUES]), g("obj", d))
        if c == 8:
            op = r.choice([T.UNION, T.SET_UNION, T.SET_DIFFERENCE, T.ZIP, T.DIFFERENCE])
            return term(op, g("arr", d), g("arr", d))
        if c == 9:
            return term(T.COERCE_TO, g("seq", d), "array")
        if c == 10:
            return term(T.DISTINCT, g("arr", d))
        if c == 11:
            ends = [r.randrange(-3, 60) for _ in range(r.randrange(3))]
            return term(T.COERCE_TO, term(T.RANGE, *ends), "array")
        if c == 12:
            return term(T.INSERT_AT, g("arr", d), g("num", d), g("any", d))
        return term(T.FOLD, g("arr", d), g("any", d), self.func("any", d, arity=2))

    def _obj(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(7)
        if c == 0:
            return {r.choice(STRINGS[:7]): g("any", d) for _ in range(r.randrange(3))}
        if c == 1:
            return term(T.MERGE, g("obj", d), g(r.choice(["obj", "obj", "any"]), d))
        if c == 2:
            return term(r.choice([T.PLUCK, T.WITHOUT]), g("obj", d), g("str", d))
        if c == 3:
            return term(T.GET, term(T.TABLE, TABLE), g("num", d))
        if c == 4:
            return term(T.OBJECT, g("str", d), g("any", d))
        if c == 5:
            return term(T.DEFAULT, g("obj", d), g("obj", d))
        return term(T.NTH, g("seq", d), r.randrange(-2, 5))

    def _seq(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        tbl = term(T.TABLE, TABLE)
        c = r.randrange(10)
        if c == 0:
            return tbl
        if c == 1:
            return term(T.FILTER, g("seq", d), self.func("bool", d))
        if c == 2:
            return term(T.BETWEEN, tbl, g("num", d), g("num", d))
        if c == 3:
            return term(T.GET_ALL, tbl, g("num", d), g("num", d))
        if c == 4:
            return term(T.LIMIT, term(T.ORDER_BY, g("seq", d), index="id"), g("num", d))
        if c == 5:
            return term(T.MAP, g("seq", d), self.func("any", d))
        if c == 6:
            return term(T.RANGE, *[r.randrange(-3, 60) for _ in range(r.randrange(1, 3))])
        if c == 7:
            return term(T.PLUCK, g("seq", d), g("str", d))
        if c == 8:
            return term(T.UNGROUP, term(T.GROUP, g("seq", d), g("str", d)))
        return term(T.EQ_JOIN, g("seq", d), g("str", d), tbl)

    def _time(self, d: int) -> Any:
        r, g = self.rnd, self.gen
        c = r.randrange(5)
        if c == 0:
            return term(T.NOW)
        if c == 1:
            return term(T.EPOCH_TIME, g("num", d))
        if c == 2:
            return term(T.ISO8601, g("str", d))
        if c == 3:
            return term(T.TIME, g("num", d), g("num", d), g("num", d), g("str", d))
        return term(T.IN_TIMEZONE, g("time", d), g("str", d))

    def write(self, d: int = 1) -> Any:
        """A write to the fuzz table (keys kept small, so it stays small)."""
        r, g = self.rnd, self.gen
        c = r.randrange(4)
        if c == 0:
            doc = {"id": r.randrange(40), "n": g("num", d), "s": g("str", d)}
            return term(T.INSERT, term(T.TABLE, TABLE), doc,
                        conflict=r.choice(["error", "replace", "update"]))  # fmt: skip
        if c == 1:
            sel = term(T.GET, term(T.TABLE, TABLE), r.randrange(40))
            return term(T.UPDATE, sel, self.func("obj", d))
        if c == 2:
            return term(T.REPLACE, term(T.GET, term(T.TABLE, TABLE), r.randrange(40)),
                        self.func("any", d))  # fmt: skip
        return term(T.DELETE, term(T.BETWEEN, term(T.TABLE, TABLE), r.randrange(40), 40))

    def query(self) -> Any:
        """A whole query: START of a tree (read or write), sometimes with odd global
        optargs, sometimes another query type."""
        r = self.rnd
        k = r.random()
        if k < 0.1:
            tree = self.write()
        else:
            tree = self.gen(r.choice(SORTS))
        q: list = [START, tree]
        if r.random() < 0.2:
            q.append({r.choice(["db", "durability", "read_mode", "profile", "array_limit",
                                "time_format", "binary_format", "group_format", "x",
                                "max_batch_rows", "first_batch_scaledown_factor"]):
                      self.datum()})  # fmt: skip
        if self.ill and r.random() < 0.05:
            q = r.choice([[CONTINUE], [STOP], [NOREPLY_WAIT], [SERVER_INFO], [99, tree],
                          [START], [], [START, tree, [], 5], "x", {"a": 1}])  # fmt: skip
        return q


# Terms a fuzzed query may use at random: not external I/O (r.http, r.js would reach out or
# spin a JS runtime), not feeds (they never end), not drops or user/permission changes (they
# would take the fuzz table or the admin account away), not waits (bounded, but slow), not
# r.range at random (count(r.range(1e9)) is just long, in RethinkDB too; the typed generator
# uses short ranges).
_SKIP = {T.JAVASCRIPT, T.HTTP, T.CHANGES, T.DB_DROP, T.TABLE_DROP, T.GRANT, T.WAIT,
         T.INDEX_WAIT, T.SYNC, T.RECONFIGURE, T.REBALANCE, T.SET_WRITE_HOOK, T.DB_CREATE,
         T.TABLE_CREATE, T.INDEX_CREATE, T.INDEX_DROP, T.INDEX_RENAME, T.CONFIG, T.RANGE}  # fmt: skip
FUZZ_TERMS = [int(t) for t in T if t not in _SKIP]


# -- connection scripts (handshake and framing) ----------------------------------------------


@dataclass
class Script:
    """Bytes to send on a fresh connection and what must come back."""

    data: bytes
    kind: str
    handshake_ok: bool = False  # a correct handshake precedes ``frames``
    frames: list[Any] = field(default_factory=list)  # well-framed queries after it


def wire_script(rnd: random.Random) -> Script:
    """A connection's opening: any protocol version and mutated handshake messages."""
    k = rnd.randrange(8)
    if k == 0:  # the old versions, with or without (long, lying) keys and any protocol
        version = rnd.choice([V0_1, V0_2, V0_3, V0_4])
        key = rnd.choice([b"", b"secret", os.urandom(rnd.randrange(40)), b"\xff\xfe"])
        declared = rnd.choice([len(key), len(key), len(key) + 5, 2**31, 2**32 - 1, 0])
        proto = rnd.choice([JSON_PROTOCOL, PROTOBUF, rnd.randrange(2**32), 0])
        data = struct.pack("<II", version, declared) + key + struct.pack("<I", proto)
        return Script(data[: rnd.choice([len(data), rnd.randrange(len(data) + 1)])], "v0")
    if k == 1:  # an unknown magic number or a truncated one
        data = struct.pack("<I", rnd.randrange(2**32)) + os.urandom(rnd.randrange(20))
        return Script(data[: rnd.randrange(len(data) + 1)], "magic")
    if k in (2, 3):  # V1_0 with a mutated first message
        msg = {"protocol_version": 0, "authentication_method": "SCRAM-SHA-256",
               "authentication": "n,,n=admin,r=" + base64.b64encode(os.urandom(9)).decode()}  # fmt: skip
        _mutate_json(rnd, msg, ["protocol_version", "authentication_method", "authentication"])
        body = _dump_or_garble(rnd, msg)
        return Script(struct.pack("<I", V1_0) + body, "v1-first")
    if k == 4:  # V1_0 with SCRAM first messages of every malformed kind
        auth = rnd.choice([
            "", "n,,", "n,,n=admin", "n,,r=abc", "y,,n=admin,r=x", "p=tls,,n=admin,r=x",
            "n,a=admin,n=admin,r=x", "n,,n=ad=3Dmin,r=x", "n,,n=ad=2Cmin,r=x", "n,,n=a=ZZ,r=x",
            "n,,n=,r=x", "n,,n=nosuchuser,r=abc", "n,,n=admin,r=", "n,,m=ext,n=admin,r=x",
            "n,,n=admin,r=" + "x" * rnd.choice([1, 100, 5000]), "n,,n=\x00,r=x", "n,,n=é,r=é",
        ])  # fmt: skip
        msg = {"protocol_version": 0, "authentication_method": "SCRAM-SHA-256",
               "authentication": auth}  # fmt: skip
        return Script(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0", "scram-first")
    if k == 5:  # a correct first message, then a mutated final one (sent after the reply)
        return Script(b"", "scram-final")
    # A correct handshake, then frames: good queries, bad JSON, lying headers.
    frames: list[Any] = []
    tail = b""
    gen = TermGen(rnd, ill=0.3, max_depth=3)
    for _ in range(rnd.randrange(1, 6)):
        c = rnd.randrange(6)
        if c <= 1:
            frames.append(gen.query())
        elif c == 2:
            frames.append(rnd.choice([b"", b"[", b"\xff\xfe", b"null", b"[1,", b"{}", b"[1]",
                                      b"[1, [1], {}]garbage", b"[1e999]", b'"\\ud800"',
                                      b"[1," * 2000, os.urandom(rnd.randrange(30))]))  # fmt: skip
        elif c == 3:
            frames.append(json.dumps(gen.query()).encode()[: rnd.randrange(1, 60)])
        elif c == 4:
            frames.append([START, gen.gen("any"), {"noreply": True}])
        else:
            frames.append(
                [
                    rnd.choice([CONTINUE, STOP]),
                ]
            )
    if rnd.random() < 0.3:  # a header whose size is never sent, or is beyond the maximum
        size = rnd.choice([5, 1000, 2**27, 2**32 - 1])
        tail = struct.pack("<qI", rnd.randrange(-5, 2**62), size) + os.urandom(rnd.randrange(4))
    return Script(tail, "frames", handshake_ok=True, frames=frames)


def _mutate_json(rnd: random.Random, msg: dict, keys: list[str]) -> None:
    for _ in range(rnd.randrange(1, 3)):
        key = rnd.choice(keys)
        c = rnd.randrange(5)
        if c == 0:
            msg.pop(key, None)
        elif c == 1:
            msg[key] = rnd.choice([None, 1, -1, 0.5, True, "x", [], {}, "0", 2**70, "SCRAM-SHA-1"])
        elif c == 2:
            msg[rnd.choice(["extra", "", "\x00"])] = "v"
        elif c == 3 and type(msg.get(key)) is str:
            s = msg[key]
            i = rnd.randrange(len(s) + 1)
            msg[key] = s[:i] + rnd.choice([",", "=", "\x00", "é", ",,", "r="]) + s[i:]
        else:
            msg[key] = "y" * rnd.choice([1000, 70000])


def _dump_or_garble(rnd: random.Random, msg: Any) -> bytes:
    body = json.dumps(msg).encode()
    c = rnd.randrange(6)
    if c == 0:
        return body  # no NUL: the server waits; the close must end it
    if c == 1:
        return body[: rnd.randrange(len(body))] + b"\0"
    if c == 2:
        return rnd.choice([b"[]", b"1", b"null", b'"s"', b"\xff", b"{"]) + b"\0"
    return body + b"\0"


def run_script(host: str, port: int, script: Script, rnd: random.Random) -> int:
    """Run one connection script; returns how many inputs (messages, frames) it sent."""
    sock = socket.create_connection((host, port), timeout=DEADLINE)
    try:
        if script.kind == "scram-final":
            return _scram_final(sock, rnd)
        sent = 1
        if script.handshake_ok:
            handshake(sock)
            conn = Conn.__new__(Conn)
            conn.sock, conn.buf = sock, bytearray()
            if script.frames:
                conn.run(script.frames)
                sent += len(script.frames)
        sock.sendall(script.data)
        _half_close(sock)
        _drain_and_check(sock, script)
        return sent + 1
    except (BrokenPipeError, ConnectionResetError):
        return 1  # the server closed first: fine, as long as it still serves (checked after)
    finally:
        sock.close()


def _half_close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server already closed (after its answer): reading shows what it said


def _drain_and_check(sock: socket.socket, script: Script) -> None:
    """Read until the server closes; what it said must be an answer, not Python's text."""
    deadline = time.monotonic() + DEADLINE
    got = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Violation(f"{script.kind}: the server neither answered nor closed (a hang)")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    text = got.decode("utf-8", "replace")
    if script.handshake_ok:
        # Frames after the queries: a too-large header gets a CLIENT_ERROR; check any JSON.
        while len(got) >= 12:
            _, size = struct.unpack_from("<qI", got)
            payload = bytes(got[12 : 12 + size])
            del got[: 12 + size]
            try:
                check_response("trailing frame", json.loads(payload))
            except ValueError:
                raise Violation(f"trailing answer is not JSON: {payload[:200]!r}") from None
        return
    for part in text.split("\0"):
        if part.startswith("{"):
            try:
                msg = json.loads(part)
            except ValueError:
                raise Violation(f"handshake reply is not JSON: {part[:200]!r}") from None
            if msg.get("success") is False:
                check_error_text(f"{script.kind} handshake", msg.get("error"))
        elif part:
            check_error_text(f"{script.kind} handshake", part)


def _scram_final(sock: socket.socket, rnd: random.Random) -> int:
    first_bare, nonce = scram_client_first(rnd.choice(["admin", "admin", "nosuchuser"]))
    sock.sendall(
        struct.pack("<I", V1_0)
        + json.dumps(
            {
                "protocol_version": 0,
                "authentication_method": "SCRAM-SHA-256",
                "authentication": "n,," + first_bare,
            }
        ).encode()  # fmt: skip
        + b"\0"
    )
    json.loads(_recv_until_nul(sock))
    reply = json.loads(_recv_until_nul(sock))
    if not reply.get("success"):
        check_error_text("scram first", reply.get("error"))
        return 1
    server_first = reply["authentication"]
    good = scram_final("", first_bare, server_first)
    attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
    final = rnd.choice([
        good.replace("c=biws", "c=eSws"), good.replace(attrs["r"], nonce),
        good.rsplit(",p=", 1)[0], good.rsplit(",p=", 1)[0] + ",p=!!notbase64",
        good.rsplit(",p=", 1)[0] + ",p=" + base64.b64encode(b"x" * 32).decode(),
        good[: rnd.randrange(len(good))], "", "c=biws", good + ",x=1", good.replace("r=", "q="),
        scram_final("wrong", first_bare, server_first),
    ])  # fmt: skip
    body = json.dumps({"authentication": final}).encode() + b"\0"
    if rnd.random() < 0.2:
        body = _dump_or_garble(rnd, {"authentication": final})
    sock.sendall(body)
    _half_close(sock)
    _drain_and_check(sock, Script(b"", "scram-final"))
    return 2
