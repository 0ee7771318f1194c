"""Shared helpers for the black-box tests: they run the real bookrec binary
(BOOKREC_BIN, built by `make`) and read the SQLite database it writes."""
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("BOOKREC_BIN", str(ROOT / "build" / "bookrec"))
FIX = ROOT / "tests" / "fixtures" / "import"


def data_dir():
    d = Path(os.environ.get("BOOKREC_DATA", ROOT.parent / "shared" / "data"))
    return d if (d / "bookcrossing").is_dir() else None


def run(*args, env=None, check=True, cwd=None):
    e = dict(os.environ)
    e.pop("BOOKREC_CONFIG", None)
    e.update(env or {})
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=e,
                       cwd=cwd or ROOT, timeout=600)
    if check and p.returncode != 0:
        raise AssertionError(f"bookrec {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def query(db, sql, *params):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def import_(db, *sources, tmp_path, check=True):
    rep = tmp_path / f"report-{len(list(tmp_path.glob('report-*')))}.json"
    p = run("import", "--db", db, "--report-json", rep, *sources, check=check)
    report = json.loads(rep.read_text()) if rep.exists() else None
    return p, report


@pytest.fixture
def db(tmp_path):
    return tmp_path / "bookrec.db"
