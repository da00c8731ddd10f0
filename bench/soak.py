"""Soak run (loopback only, bounded in time): ``python bench/soak.py [--minutes 10]
[--connections 1000] [--feeds 100] [--rate 800] [--server-cpu 0 --client-cpu 1]``.

One `rethought serve` on a fresh directory; ``--connections`` raw protocol connections (SCRAM,
V1_0) of which ``--feeds`` hold a changefeed on the table (some filtered) read as it comes,
the rest run a mixed load at ``--rate`` queries per second in all: point reads, index and
range reads, counts, soft and hard inserts and function updates. Besides them:

- a *slow feed reader* (``changefeed_queue_size=1000``) that stops asking for batches for a
  minute: it must then get RethinkDB's ``Changefeed cache over array size limit, skipped N
  elements.`` instead of the server buffering for it;
- a *stalled client* that starts a large stream and never reads its socket: the server must
  drop it after a bounded buffer (net.py ``STALLED_CLIENT_SECONDS``) without slowing the rest.

Every query must be answered (``--deadline`` seconds); the server's RSS and open descriptors
are sampled every 10 s; at the end it prints p50 / p99 / max latency per kind of query, the
RSS and fd plateau (median of the second half) against the end, and any violation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from conftest import ServerProcess  # noqa: E402
from fuzz_harness import scram_client_first, scram_final  # noqa: E402

V1_0 = 0x34C2BDC3
START, CONTINUE, STOP = 1, 2, 3
PARTIAL, FEED_TYPES = 3, {3}
TABLE = "soak"
ROWS = 10_000


def q_table() -> list:
    return [15, [TABLE]]


class Client:
    """One raw, pipelined protocol connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.next_token = 1
        self.waiting: dict[int, asyncio.Future] = {}
        self.pump: asyncio.Task | None = None

    @classmethod
    async def open(cls, host: str, port: int) -> Client:
        reader, writer = await asyncio.open_connection(host, port, limit=1 << 24)
        first_bare, _ = scram_client_first()
        msg = {"protocol_version": 0, "authentication_method": "SCRAM-SHA-256",
               "authentication": "n,," + first_bare}  # fmt: skip
        writer.write(struct.pack("<I", V1_0) + json.dumps(msg).encode() + b"\0")
        await reader.readuntil(b"\0")
        reply = json.loads((await reader.readuntil(b"\0"))[:-1])
        final = scram_final("", first_bare, reply["authentication"])
        writer.write(json.dumps({"authentication": final}).encode() + b"\0")
        last = json.loads((await reader.readuntil(b"\0"))[:-1])
        if not last.get("success"):
            raise RuntimeError(f"handshake failed: {last}")
        c = cls(reader, writer)
        c.pump = asyncio.ensure_future(c._pump())
        return c

    async def _pump(self) -> None:
        try:
            while True:
                token, size = struct.unpack("<qI", await self.reader.readexactly(12))
                resp = json.loads(await self.reader.readexactly(size))
                fut = self.waiting.pop(token, None)
                if fut is not None and not fut.done():
                    fut.set_result(resp)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            for fut in self.waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection closed"))

    def send(self, token: int, query: list) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        self.waiting[token] = fut
        payload = json.dumps(query).encode()
        self.writer.write(struct.pack("<qI", token, len(payload)) + payload)
        return fut

    def start(self, term, **opts) -> tuple[int, asyncio.Future]:
        token = self.next_token
        self.next_token += 1
        return token, self.send(token, [START, term, opts] if opts else [START, term])

    def close(self) -> None:
        self.writer.close()


class Stats:
    def __init__(self) -> None:
        self.lat: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.unanswered = 0
        self.feed_changes = 0

    def add(self, kind: str, seconds: float) -> None:
        self.lat.setdefault(kind, []).append(seconds)


def _query(rng: random.Random, seq: int) -> tuple[str, list, dict]:
    k = rng.random()
    key = rng.randrange(ROWS)
    if k < 0.45:
        return "get", [16, [q_table(), key]], {}
    if k < 0.60:
        return "get_all", [78, [q_table(), rng.randrange(50)], {"index": "grp"}], {}
    if k < 0.70:
        return "between", [71, [[182, [q_table(), key, key + 20]], 10]], {}  # limit(between)
    if k < 0.75:
        return "count", [43, [q_table()]], {}
    if k < 0.87:
        doc = {"id": f"n{seq}", "grp": rng.randrange(50), "v": 0}
        return "insert_soft", [56, [q_table(), doc]], {"durability": "soft"}
    if k < 0.94:
        doc = {"id": f"h{seq}", "grp": rng.randrange(50), "v": 0}
        return "insert_hard", [56, [q_table(), doc]], {"durability": "hard"}
    # get(key).update(row => {v: row('v') + 1})
    fn = [69, [[2, [1]], {"v": [24, [[170, [[10, [1]], "v"]], 1]]}]]
    return "update", [53, [[16, [q_table(), key]], fn]], {}


async def load_worker(c: Client, rng: random.Random, stats: Stats, rate: float, stop: float,
                      deadline: float) -> None:  # fmt: skip
    seq = 0
    while time.monotonic() < stop:
        await asyncio.sleep(rng.expovariate(rate))
        seq += 1
        kind, term, opts = _query(rng, seq * 1000 + rng.randrange(1000))
        t0 = time.monotonic()
        token, fut = c.start(term, **opts)
        try:
            resp = await asyncio.wait_for(fut, deadline)
            if resp["t"] == PARTIAL:  # a batch cut by time: close the cursor, as a driver's
                # cursor.close() does (left open, each holds its suspended scan in the server)
                await asyncio.wait_for(c.send(token, [STOP]), deadline)
        except TimeoutError:
            stats.unanswered += 1
            continue
        except ConnectionError as e:
            stats.errors.append(f"{kind}: {e}")
            return
        stats.add(kind, time.monotonic() - t0)
        if resp["t"] >= 16 and "Duplicate primary key" not in str(resp["r"]):
            stats.errors.append(f"{kind}: {resp['r']}")


async def feed_reader(c: Client, rng: random.Random, stats: Stats, stop: float) -> None:
    term = [152, [q_table()]]  # changes
    if rng.random() < 0.5:
        fn = [69, [[2, [1]], [17, [[170, [[10, [1]], "grp"]], rng.randrange(50)]]]]
        term = [152, [[39, [q_table(), fn]]]]  # filter(grp == k).changes()
    token, fut = c.start(term)
    while time.monotonic() < stop:
        try:
            resp = await asyncio.wait_for(fut, 60)
        except TimeoutError:
            continue  # a filtered feed may be quiet; keep waiting on the same batch
        except ConnectionError as e:
            stats.errors.append(f"feed: {e}")
            return
        if resp["t"] != PARTIAL:
            stats.errors.append(f"feed ended: {resp}")
            return
        stats.feed_changes += len(resp["r"])
        fut = c.send(token, [CONTINUE])


async def slow_feed(c: Client, report: dict) -> None:
    """Stops reading its feed for a minute: the server must drop changes with the error."""
    token, fut = c.start([152, [q_table()]], changefeed_queue_size=1000)
    await fut
    await asyncio.sleep(60)
    seen_error = None
    for _ in range(50):
        resp = await c.send(token, [CONTINUE])
        for item in resp["r"]:
            if isinstance(item, dict) and "error" in item:
                seen_error = item["error"]
        if seen_error or resp["t"] != PARTIAL:
            break
    report["slow_feed"] = seen_error or f"no overflow error (last {str(resp)[:200]})"


async def stalled_client(host: str, port: int, report: dict) -> None:
    """Starts a large stream, then never reads: the server must close the connection."""
    c = await Client.open(host, port)
    c.pump.cancel()  # stop reading the socket for good
    for _ in range(200):  # r.range(1e6).map(x => "x" * 200): a megabyte a batch
        c.start([38, [[173, [1_000_000]], [69, [[2, [1]], "x" * 200]]]])
    t0 = time.monotonic()
    while time.monotonic() - t0 < 300:
        await asyncio.sleep(5)
        if c.writer.transport.is_closing() or c.reader.at_eof():
            break
        try:
            c.writer.write(b"")
            await asyncio.wait_for(c.reader.read(0), 0.1)
        except Exception:
            break
    # The server closed its end if a read now hits EOF after draining what it had sent.
    try:
        drained = 0
        while True:
            chunk = await asyncio.wait_for(c.reader.read(1 << 20), 10)
            if not chunk:
                report["stalled_client"] = f"disconnected by the server ({drained} bytes buffered)"
                break
            drained += len(chunk)
    except TimeoutError:
        report["stalled_client"] = "still connected"
    except ConnectionError as e:  # the server closed with data unread: a reset
        report["stalled_client"] = f"disconnected by the server ({type(e).__name__})"
    c.close()


def proc_figures(pid: int) -> tuple[int, int]:
    return proc_memory(pid)["VmRSS"], len(os.listdir(f"/proc/{pid}/fd"))


def proc_memory(pid: int) -> dict[str, int]:
    """VmRSS and its parts in KiB: RssAnon (the heap: Python and native) and RssFile (the
    pages of data.mdb the server touched, which grow with the data and the kernel may drop)."""
    with open(f"/proc/{pid}/status") as f:
        parts = (line.partition(":") for line in f)
        return {k: int(v.split()[0]) for k, _, v in parts if k in ("VmRSS", "RssAnon", "RssFile")}


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="soak-") as base:
        srv = ServerProcess(f"{base}/data").start()
        if args.server_cpu is not None:  # server and clients on separate cores
            os.sched_setaffinity(srv.proc.pid, {args.server_cpu})
        if args.client_cpu is not None:
            os.sched_setaffinity(0, {args.client_cpu})
        host, port = srv.host, srv.port
        setup = await Client.open(host, port)
        for term in ([60, [TABLE]], [75, [q_table(), "grp"]]):
            await setup.start(term)[1]
        for start in range(0, ROWS, 1000):
            docs = [{"id": i, "grp": i % 50, "v": 0} for i in range(start, start + 1000)]
            await setup.start([56, [q_table(), [2, docs]]])[1]
        await setup.start([140, [q_table(), "grp"]])[1]  # index_wait
        print(f"seeded {ROWS} rows; opening {args.connections} connections", flush=True)
        clients = []
        for i in range(0, args.connections, 50):
            n = min(50, args.connections - i)
            clients += await asyncio.gather(*(Client.open(host, port) for _ in range(n)))
        rss0, fds0 = proc_figures(srv.proc.pid)
        print(f"{len(clients)} connections open: server RSS {rss0} KiB, {fds0} fds", flush=True)
        stats, report = Stats(), {}
        rng = random.Random(args.seed)
        started = time.monotonic()
        stop = started + args.minutes * 60
        loaders = clients[args.feeds :]
        per = args.rate / max(len(loaders), 1)
        tasks = [asyncio.ensure_future(feed_reader(c, random.Random(rng.random()), stats, stop))
                 for c in clients[: args.feeds]]  # fmt: skip
        tasks += [asyncio.ensure_future(load_worker(c, random.Random(rng.random()), stats, per,
                                                    stop, args.deadline)) for c in loaders]  # fmt: skip
        extra = [asyncio.ensure_future(slow_feed(await Client.open(host, port), report)),
                 asyncio.ensure_future(stalled_client(host, port, report))]  # fmt: skip
        samples: list[tuple[float, int, int, int]] = []
        while time.monotonic() < stop:
            await asyncio.sleep(10)
            rss, fds = proc_figures(srv.proc.pid)
            mem = proc_memory(srv.proc.pid)
            samples.append((time.monotonic() - started, rss, fds, mem["RssAnon"]))
            done = sum(len(v) for v in stats.lat.values())
            print(f"{samples[-1][0]:.0f}s: {done} queries answered, {stats.unanswered} "
                  f"unanswered, {len(stats.errors)} errors, {stats.feed_changes} feed changes, "
                  f"RSS {rss} KiB (anon {mem['RssAnon']}, file {mem['RssFile']}), {fds} fds",
                  flush=True)  # fmt: skip
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.wait(extra, timeout=120)
        for c in clients:
            c.close()
        srv.stop()
        log = srv.log()
    half = samples[len(samples) // 2 :] or samples
    plateau_rss = statistics.median(s[1] for s in half)
    plateau_fds = statistics.median(s[2] for s in half)
    end_rss, end_fds = samples[-1][1], samples[-1][2]
    plateau_anon, end_anon = statistics.median(s[3] for s in half), samples[-1][3]
    print("\nlatency (ms)   count     p50     p99     max")
    for kind, xs in sorted(stats.lat.items()):
        xs.sort()
        p = lambda q: xs[min(len(xs) - 1, int(q * len(xs)))] * 1000  # noqa: E731
        print(f"{kind:<12} {len(xs):>8} {p(0.5):>7.1f} {p(0.99):>7.1f} {xs[-1] * 1000:>7.0f}")
    total = sum(len(v) for v in stats.lat.values())
    print(f"\n{total} queries in {args.minutes} min ({total / (args.minutes * 60):.0f}/s), "
          f"{stats.unanswered} unanswered, {len(stats.errors)} errors, "
          f"{stats.feed_changes} changes delivered to {args.feeds} feeds")  # fmt: skip
    print(f"server RSS: start {rss0} KiB, plateau {plateau_rss:.0f}, end {end_rss} "
          f"({(end_rss - plateau_rss) / plateau_rss * 100:+.1f}%); fds: start {fds0}, plateau "
          f"{plateau_fds:.0f}, end {end_fds}")  # fmt: skip
    print(f"server RssAnon (heap): plateau {plateau_anon:.0f} KiB, end {end_anon} "
          f"({(end_anon - plateau_anon) / plateau_anon * 100:+.1f}%)")  # fmt: skip
    print(f"slow feed reader: {report.get('slow_feed')}")
    print(f"stalled client: {report.get('stalled_client')}")
    for e in stats.errors[:10]:
        print("error:", e)
    tb = "Traceback" in log
    print("server log: " + ("HAS A TRACEBACK" if tb else "no traceback"))
    ok = not stats.unanswered and not stats.errors and not tb
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--connections", type=int, default=1000)
    ap.add_argument("--feeds", type=int, default=100)
    ap.add_argument("--rate", type=float, default=800, help="queries per second, all clients")
    ap.add_argument("--deadline", type=float, default=30, help="seconds a query may take")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--server-cpu", type=int, help="pin the server to this CPU")
    ap.add_argument("--client-cpu", type=int, help="pin this client process to this CPU")
    return asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
