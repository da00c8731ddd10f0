"""The official JavaScript driver and rethinkdbdash talk to `rethought serve` unchanged.

`.ci/run` installs them (tests/js/package.json); without Node.js or those packages the test
is skipped with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ServerProcess

JS = Path(__file__).resolve().parent / "js"


def test_javascript_drivers(tmp_path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    if not (JS / "node_modules" / "rethinkdb").is_dir():
        pytest.skip("run `npm install --prefix tests/js` (.ci/run does)")
    srv = ServerProcess(str(tmp_path / "data")).start()
    try:
        out = subprocess.run(
            ["node", str(JS / "drivers.js"), str(srv.port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        srv.stop()
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout)
    assert got["inserted"] == 3
    assert got["row"] == {"id": 0}
    assert got["all"] == [{"id": 0}, {"id": 1}, {"id": 2}]
    assert got["err"] == "ReqlOpFailedError: Table `test.non_existent` does not exist."
    assert got["change"] == {"new_val": {"id": 3}, "old_val": None}
    assert got["dashCount"] == 4  # rethinkdbdash sees the same table
