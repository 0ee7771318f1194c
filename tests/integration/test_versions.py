"""Black-box tests of `bookrec versions`: versions are written by hand here (manifest.json
with xxh64 checksums, as lib/artifact/version.c writes them), then listed, shown, verified,
activated, rolled back and pruned through the real binary.

/usr/bin/python3 may lack the xxhash module, so XXH64 is implemented in xxh64.py (pure
Python, checked here against known vectors of the reference implementation)."""
import json
import os
import shutil
import time

import pytest

from conftest import run
from xxh64 import xxh64


def test_xxh64_known_vectors():
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"abc") == 0x44BC2CF5AD770999
    assert xxh64(b"a" * 100) == 0x375041E8B1DECFB3
    assert xxh64(bytes(range(256)) * 3) == 0x8E03C838C596036F


def vid(seq):
    return f"20240101-1200{seq:02d}-000-{seq:08x}"


def make_version(art, seq, recall=None, split="split-1"):
    """Writes ARTIFACTS/versions/<id>/ with two files and its manifest; returns the id."""
    vid_ = vid(seq)
    d = art / "versions" / vid_
    (d / "als").mkdir(parents=True)
    files = {"als/item_factors.npy": b"item factors %d " % seq * 20, "meta.json": b"{}\n"}
    entries = []
    for rel, body in files.items():
        (d / rel).write_bytes(body)
        entries.append({"path": rel, "role": rel.split("/")[0] if "/" in rel else "meta",
                        "size": len(body), "xxh64": f"{xxh64(body):016x}"})
    manifest = {"format": "bookrec-version/1", "id": vid_, "created_at": 1700000000 + seq,
                "code_commit": "test", "split_id": split, "params": {},
                "metrics": {} if recall is None else {"warm": {"recall@30": recall}},
                "dims": {"n_items": 3, "n_users": 2, "factors": 4, "subject_dim": 8},
                "files": entries}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return vid_


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A real version (demo catalog, small models): activation loads it with every model
    service's loader, which hand-made files cannot pass."""
    d = tmp_path_factory.mktemp("template")
    db = d / "d.db"
    run("demo-data", d / "demo")
    run("import", "--db", db, "--report-json", d / "r.json", d / "demo")
    run("split", "--db", db)
    run("--set", "als.iterations=2", "--set", "als.factors=8", "--set", "subject.epochs=1",
        "--set", "subject.dim=8", "train", "--db", db, "--out", d / "m", "--pool", "perdim")
    out = run("publish", "--db", db, "--model", d / "m", "--artifacts", d / "art",
              "--no-activate").stdout
    return d / "art" / "versions" / out.split()[1]


def make_real_version(art, seq, template):
    """A copy of the template version under the id vid(seq)."""
    vid_ = vid(seq)
    shutil.copytree(template, art / "versions" / vid_)
    m = art / "versions" / vid_ / "manifest.json"
    man = json.loads(m.read_text())
    man["id"] = vid_
    m.write_text(json.dumps(man))
    return vid_


def versions(art, *args, check=True):
    return run("versions", "--artifacts", art, *args, check=check)


def fails(p, *words):
    """A failure: non-zero exit, one line on stderr, containing the words."""
    assert p.returncode != 0, p.stdout
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_help_and_errors(tmp_path):
    assert "usage" in run("versions", "--help").stdout
    for sub in ("list", "show", "activate", "rollback", "prune"):
        p = run("versions", sub, "--help")
        assert p.stdout.startswith("usage: bookrec versions"), sub
    fails(versions(tmp_path / "nope", "list", check=False), "no artifacts directory")
    fails(run("versions", check=False), "give a command")
    fails(versions(tmp_path, "frobnicate", check=False), "unknown command")
    fails(versions(tmp_path, "show", "../../etc", check=False), "not a version id")
    fails(versions(tmp_path, "activate", vid(9), check=False), "no version", vid(9))
    fails(versions(tmp_path, "prune", check=False), "--keep")
    fails(versions(tmp_path, "rollback", check=False), "no CURRENT")


def test_list_show_verify(tmp_path):
    art = tmp_path
    a = make_version(art, 1, recall=0.1234, split="split-a")
    b = make_version(art, 2)
    (art / "versions" / ".staging-whatever").mkdir()
    (art / "versions" / vid(3)).mkdir()  # no manifest: not a version
    out = versions(art, "list").stdout.splitlines()
    assert len(out) == 3 and out[0].split()[0] == "ID"
    assert out[1].split()[0] == a and "split-a" in out[1] and "0.1234" in out[1]
    assert out[2].split()[0] == b and " - " in out[2]
    js = json.loads(versions(art, "list", "--json").stdout)
    assert [v["id"] for v in js] == [a, b]
    assert js[0]["recall_at_30"] == 0.1234 and js[1]["recall_at_30"] is None
    assert js[0]["split_id"] == "split-a" and js[0]["created_at"] == 1700000001
    assert js[0]["size_bytes"] > 300 and not js[0]["current"]

    shown = json.loads(versions(art, "show", a).stdout)
    assert shown["id"] == a and len(shown["files"]) == 2
    p = versions(art, "show", a, "--verify")
    assert p.stdout.rstrip().endswith("verify: OK (2 files)")

    # One flipped byte: same size, so only the checksum catches it.
    f = art / "versions" / a / "als" / "item_factors.npy"
    body = bytearray(f.read_bytes())
    body[5] ^= 1
    f.write_bytes(bytes(body))
    fails(versions(art, "show", a, "--verify", check=False), "FAILED", "xxh64")
    f.write_bytes(bytes(body[:10]))
    fails(versions(art, "show", a, "--verify", check=False), "FAILED", "size")
    f.unlink()
    fails(versions(art, "show", a, "--verify", check=False), "FAILED", "missing")

    # A manifest that points outside the version, and one that does not parse.
    m = art / "versions" / b / "manifest.json"
    man = json.loads(m.read_text())
    man["files"][0]["path"] = "../" + a + "/meta.json"
    m.write_text(json.dumps(man))
    fails(versions(art, "show", b, check=False), "unsafe path")
    m.write_text('{"id": "' + b + '", "files": [')
    fails(versions(art, "show", b, check=False), "does not parse")
    fails(versions(art, "activate", b, check=False), b)
    assert "unreadable" in versions(art, "list").stdout


def test_activate_and_rollback(tmp_path, template):
    art = tmp_path
    ids = [make_real_version(art, i, template) for i in range(1, 5)]
    p = versions(art, "activate", ids[0])
    assert p.stdout.strip() == f"CURRENT: (none) -> {ids[0]}"
    assert (art / "CURRENT").read_text() == ids[0] + "\n"
    for v in ids[1:]:
        versions(art, "activate", v)
    hist = (art / "HISTORY").read_text().splitlines()
    assert [line.split()[1] for line in hist] == ids
    assert all(line.split()[0].isdigit() for line in hist)
    star = [line for line in versions(art, "list").stdout.splitlines() if line.startswith("*")]
    assert len(star) == 1 and ids[3] in star[0]

    # A corrupt version is refused and CURRENT stays.
    bad = make_real_version(art, 9, template)
    (art / "versions" / bad / "embedder" / "params.json").write_bytes(b"{ }\n")
    fails(versions(art, "activate", bad, check=False), "unusable", bad)
    # Hand-made files pass the checksums but no service can load them.
    fake = make_version(art, 10)
    fails(versions(art, "activate", fake, check=False), "cannot load", fake)
    assert (art / "CURRENT").read_text() == ids[3] + "\n"

    p = versions(art, "rollback")
    assert p.stdout.strip() == f"CURRENT: {ids[3]} -> {ids[2]} (rolled back)"
    # A removed version is skipped; rolling back again keeps going back.
    os.rename(art / "versions" / ids[1], art / "versions" / ".staging-gone")
    p = versions(art, "rollback")
    assert p.stdout.strip().endswith(f"-> {ids[0]} (rolled back)")
    fails(versions(art, "rollback", check=False), "no earlier version")
    assert (art / "CURRENT").read_text() == ids[0] + "\n"


def test_prune(tmp_path, template):
    art = tmp_path
    ids = [make_real_version(art, i, template) for i in range(1, 6)]
    versions(art, "activate", ids[1])
    versions(art, "activate", ids[0])  # CURRENT and the previous are the oldest
    stale = art / "versions" / ".staging-old"
    stale.mkdir()
    (stale / "x.npy").write_bytes(b"partial")
    old = time.time() - 7200
    os.utime(stale / "x.npy", (old, old))
    os.utime(stale, (old, old))
    fresh = art / "versions" / ".staging-fresh"
    fresh.mkdir()
    p = versions(art, "prune", "--keep", "2")
    out = p.stdout.splitlines()
    assert out == [f"removed {ids[2]}", f"removed {ids[3]}", f"removed {ids[4]}",
                   "removed 1 stale staging directory"]
    assert sorted(x.name for x in (art / "versions").iterdir()) == sorted(
        [ids[0], ids[1], ".staging-fresh"])
    assert "nothing to remove" in versions(art, "prune", "--keep", "2").stdout
    fails(versions(art, "prune", "--keep", "-1", check=False), "--keep")


def test_artifacts_dir_from_config(tmp_path):
    a = make_version(tmp_path, 1)
    p = run("--set", f"artifacts.dir={tmp_path}", "versions", "list")
    assert a in p.stdout
