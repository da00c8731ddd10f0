"""Every example in the user documentation (docs/api/*.md, docs/changefeeds.md,
docs/server.md) runs against a real server and gives the result the page shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


def test_documented_examples_hold(tmp_path):
    # A private server: the checker resets its own sample tables in database `test`.
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        out = subprocess.run(
            [
                sys.executable,
                str(ROOT / "docs" / "api" / "check_examples.py"),
                "--host",
                srv.host,
                "--port",
                str(srv.port),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        srv.stop()
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-4000:]
    assert "examples pass" in out.stdout
