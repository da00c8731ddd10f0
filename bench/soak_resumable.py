"""The soak test of issue 15, full size: a writer inserts N documents (10,000) with hard
durability while the server is killed with SIGKILL and restarted K times (5); one resumable
changefeed consumer per loop and style (a cursor and a Handler on blocking, gevent, asyncio,
trio and Twisted; Tornado next(); the integrator's Handler; tests/resume_consumer.py) must
receive each acknowledged insert exactly once, in commit order.

    python bench/soak_resumable.py [--docs 10000] [--kills 5]

The writer retries an insert that failed with ReqlDriverError (the driver never does it
behind its back); a retry that meets its own committed insert (Duplicate primary key) counts
as acknowledged, so every id 1..N ends up committed once and each consumer must see exactly
1..N. Exit status 0 when every consumer did. The short version runs in the test suite
(tests/test_resumable_feeds_driver.py: 120 inserts, 2 cuts, 2 kills).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from conftest import ServerProcess  # noqa: E402
from rethought import r  # noqa: E402
from test_resumable_feeds_driver import _insert_acknowledged, start_consumers  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    n, kills = args.docs, args.kills
    kill_at = {n * (k + 1) // (kills + 1) for k in range(kills)}

    srv = ServerProcess(os.path.join(tempfile.mkdtemp(prefix="soak-"), "data")).start()
    writer = r.connect(host=srv.host, port=srv.port, reconnect=r.Reconnect(0.05, 0.3))
    r.db("test").table_create("soak").run(writer)
    table = r.db("test").table("soak")
    consumers = start_consumers(srv.host, srv.port, "soak", n)
    print(f"{len(consumers)} consumers ready; {n} hard inserts, SIGKILL at {sorted(kill_at)}")
    started = time.monotonic()
    ok = True
    try:
        for i in range(1, n + 1):
            if i in kill_at:
                srv.stop(signal.SIGKILL)
                srv.start()
                print(f"  killed and restarted at insert {i} ({time.monotonic() - started:.1f} s)")
            _insert_acknowledged(table, writer, i)
        written = time.monotonic() - started
        print(f"writer done: {n} acknowledged in {written:.1f} s ({n / written:.0f}/s)")
        for consumer in consumers:
            consumer.wait_for("DONE", timeout=600)
            ids = consumer.ids()
            exact = ids == list(range(1, n + 1))
            ok &= exact
            reconnects = consumer.states().count("reconnecting")
            verdict = "exactly once, in order" if exact else "MISMATCH"
            print(f"  {consumer.name:18} {len(ids):6} changes, {reconnects} reconnects: {verdict}")
        print(f"all done in {time.monotonic() - started:.1f} s: {'PASS' if ok else 'FAIL'}")
    finally:
        for consumer in consumers:
            consumer.stop()
        writer.close(noreply_wait=False)
        srv.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
