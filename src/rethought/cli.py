"""The ``rethought`` command (also ``python -m rethought``).

    rethought serve [--bind ADDR] [--driver-port N] [--directory DIR] [--initial-password PW]
                    [--http-port N | --no-http-admin]
    rethought backup DIR [--directory SRC] [--quiet]

Each subcommand registers its own parser in ``_SUBCOMMANDS``, so tools such as dump / restore
can be added beside ``serve``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import event_loop


def _add_serve(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a server", description="Run a Rethought server.")
    p.add_argument(
        "--bind",
        action="append",
        metavar="ADDR",
        help="address to listen on; repeatable; 'all' for every interface (default 127.0.0.1)",
    )
    p.add_argument("--driver-port", type=int, default=28015, metavar="N", help="default 28015")
    p.add_argument(
        "-d",
        "--directory",
        default="rethought_data",
        metavar="DIR",
        help="data directory (default ./rethought_data)",
    )
    p.add_argument(
        "--initial-password",
        metavar="PW",
        help="password of the admin user when the data directory is created",
    )
    p.add_argument("-n", "--server-name", metavar="NAME", help="default: the host name")
    p.add_argument(
        "--http-port",
        type=int,
        default=8080,
        metavar="N",
        help="port of the web console, on the --bind addresses (default 8080)",
    )
    p.add_argument("--no-http-admin", action="store_true", help="do not serve the web console")
    p.add_argument(
        "--event-loop",
        choices=event_loop.CHOICES,
        default=os.environ.get("RETHOUGHT_EVENT_LOOP", "auto"),
        help="the asyncio loop to run on: uvloop where installed ('auto', the default, or "
        "$RETHOUGHT_EVENT_LOOP), or the standard one ('asyncio'); see docs/server.md",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=1,
        metavar="N",
        help="server processes sharing the data directory and driver port, to use N cores; "
        "'auto': one per core (default 1; see docs/server.md)",
    )
    p.add_argument(
        "--changefeed-log-max-changes",
        type=_bound(int),
        default=100_000,
        metavar="N",
        help="changes kept per table for resumable feeds (default 100000; 0: no bound)",
    )
    p.add_argument(
        "--changefeed-log-max-age",
        type=_bound(float),
        default=86_400.0,
        metavar="SECONDS",
        help="age of the oldest change kept per table (default 86400; 0: no bound)",
    )
    tls = p.add_argument_group("TLS options (RethinkDB's)")
    for flag, meta, text in [
        ("--driver-tls-key", "FILE", "private key (PEM) to serve the driver port over TLS"),
        ("--driver-tls-cert", "FILE", "certificate chain (PEM) for --driver-tls-key"),
        ("--driver-tls-ca", "FILE", "CA (PEM) that must have signed every client's certificate"),
        ("--http-tls-key", "FILE", "private key (PEM) to serve the web console over TLS"),
        ("--http-tls-cert", "FILE", "certificate chain (PEM) for --http-tls-key"),
        ("--tls-min-protocol", "P", "TLSv1, TLSv1.1 or TLSv1.2 (default TLSv1.2)"),
        ("--tls-ciphers", "LIST", "OpenSSL cipher list (default EECDH+AESGCM)"),
        ("--tls-ecdh-curve", "NAME", "elliptic curve for ECDHE (default prime256v1)"),
        ("--tls-dhparams", "FILE", "DH parameters (PEM), needed for DHE cipher suites"),
    ]:
        tls.add_argument(flag, metavar=meta, help=text)
    from .serve_ops import add_operational_options

    add_operational_options(p)
    p.set_defaults(func=_run_serve)
    global _SERVE_PARSER
    _SERVE_PARSER = p


_SERVE_PARSER: argparse.ArgumentParser | None = None


def _tls_options(args: argparse.Namespace) -> Any:
    from .server.wire.tls import TlsOptions

    return TlsOptions(
        driver_key=args.driver_tls_key,
        driver_cert=args.driver_tls_cert,
        driver_ca=args.driver_tls_ca,
        http_key=args.http_tls_key,
        http_cert=args.http_tls_cert,
        min_protocol=args.tls_min_protocol,
        ciphers=args.tls_ciphers,
        ecdh_curve=args.tls_ecdh_curve,
        dhparams=args.tls_dhparams,
    )


def _bound(kind: type) -> Callable[[str], float]:
    """A parser of a non-negative retention bound (0 means none)."""

    def parse(text: str) -> float:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
        return value

    return parse


def _workers(text: str) -> int:
    if text == "auto":
        from .workers import auto_workers

        return auto_workers()
    n = int(text)
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return n


def _run_serve(args: argparse.Namespace) -> int:
    from .serve_ops import ConfigFileError, run_operational

    try:
        return run_operational(args, lambda: _serve(args))
    except ConfigFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    from .serve_ops import offset_port
    from .server.app import ServeOptions, serve

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    opts = ServeOptions(
        directory=args.directory,
        bind=tuple(args.bind or ["127.0.0.1"]),
        driver_port=offset_port(args.driver_port, args.port_offset),
        bind_driver=tuple(args.bind_driver) if args.bind_driver else None,
        bind_http=tuple(args.bind_http) if args.bind_http else None,
        initial_password=args.initial_password,
        server_name=args.server_name,
        http_port=None if args.no_http_admin else offset_port(args.http_port, args.port_offset),
        changefeed_log_max_changes=args.changefeed_log_max_changes or None,
        changefeed_log_max_age=args.changefeed_log_max_age or None,
        tls=_tls_options(args),
        event_loop=args.event_loop,
    )
    from .server.wire.tls import TlsConfigError

    try:
        event_loop.loop_name(args.event_loop)  # uvloop asked for and missing: say so first
        if args.workers > 1:
            from .workers import run

            return run(opts, args.workers)
        return event_loop.run(serve(opts), args.event_loop)
    except (OSError, TlsConfigError, ValueError) as e:
        print(f"error: could not start the server: {e}", file=sys.stderr)
        return 1


def _add_backup(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup",
        help="copy a running server's data",
        description="Write a consistent, compacted copy of a data directory to DIR, while the "
        "server keeps serving reads and writes; `rethought serve --directory DIR` starts from "
        "it. Everything acknowledged before the backup began is in the copy.",
    )
    p.add_argument("target", metavar="DIR", help="new (or empty) directory for the copy")
    p.add_argument(
        "-d",
        "--directory",
        default="rethought_data",
        metavar="SRC",
        help="the data directory to copy, served or not (default ./rethought_data)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=_run_backup)


def _run_backup(args: argparse.Namespace) -> int:
    from .backup import BackupError, TerminalProgress, backup

    bar = TerminalProgress(sys.stderr) if sys.stderr.isatty() and not args.quiet else None
    try:
        result = backup(args.directory, args.target, progress=bar)
    except BackupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.finish()
    if not args.quiet:
        print(
            f"Backup of {os.path.abspath(args.directory)} written to {result.target}: "
            f"{result.bytes / 1e6:,.1f} MB (data file {result.source_bytes / 1e6:,.1f} MB) "
            f"in {result.seconds:.2f} s, {result.mb_per_s:,.1f} MB/s, "
            f"as of LMDB transaction {result.txn_id}"
        )
    return 0


_SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [_add_serve, _add_backup]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rethought", description="Rethought database server.")
    parser.add_argument("-v", "--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def _version_line() -> str:
    import importlib.metadata
    import platform

    try:
        version = importlib.metadata.version("rethought")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"rethought {version} (Python {platform.python_version()})"


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``rethought`` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"] and _SERVE_PARSER is not None:
        from .serve_ops import ConfigFileError, expand_config_file

        try:
            argv = ["serve", *expand_config_file(_SERVE_PARSER, argv[1:])]
        except ConfigFileError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(1)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        sys.exit(2)
    sys.exit(args.func(args))
