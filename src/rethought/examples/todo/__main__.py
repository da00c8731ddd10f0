"""``python -m rethought.examples.todo``: serve the todo app against a running database."""

from __future__ import annotations

import argparse
import logging

from aiohttp import web

from .web import make_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m rethought.examples.todo",
        description="A realtime todo list on a Rethought (or RethinkDB) server.",
    )
    parser.add_argument("--http-port", type=int, default=8000,
                        help="port of the web page (default 8000)")
    parser.add_argument("--bind", default="127.0.0.1",
                        help="address the web page listens on (default 127.0.0.1)")
    parser.add_argument("--host", default="localhost",
                        help="the database server's host (default localhost)")
    parser.add_argument("--driver-port", type=int, default=28015,
                        help="the database server's driver port (default 28015)")
    parser.add_argument("--db", default="test", help="database of the todo table (default test)")
    parser.add_argument("--user", default="admin", help="database user (default admin)")
    parser.add_argument("--password", default="", help="that user's password (default empty)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = make_app({"host": args.host, "port": args.driver_port, "db": args.db,
                    "user": args.user, "password": args.password})
    print(f"Todo list on http://{args.bind}:{args.http_port}/ "
          f"(database {args.host}:{args.driver_port}, table {args.db}.todo)", flush=True)
    web.run_app(app, host=args.bind, port=args.http_port, print=None, access_log=None)


if __name__ == "__main__":
    main()
