"""bookrec split: frozen, seeded, train-only features, export, no leakage."""
import csv
import json
import sqlite3

import pytest

from conftest import data_dir, import_, query, run


@pytest.fixture
def demo_db(tmp_path):
    demo = tmp_path / "demo"
    run("demo-data", "--seed", "7", demo)
    db = tmp_path / "demo.db"
    import_(db, demo, tmp_path=tmp_path)
    return db


def split(db, *args):
    return json.loads(run("split", "--db", db, *args).stdout.split("\nexported")[0])


def test_split_is_frozen_and_seeded(demo_db, tmp_path):
    s1 = split(demo_db)
    assert s1["new_split"] and s1["split_id"].startswith("s42-")
    folds = query(demo_db, "SELECT user_id, item_idx, fold FROM split_folds ORDER BY 1, 2")
    s2 = split(demo_db)
    assert s2["split_id"] == s1["split_id"] and not s2["new_split"]
    assert query(demo_db, "SELECT user_id, item_idx, fold FROM split_folds ORDER BY 1, 2") == folds
    total = sum(f["interactions"] for f in s1["folds"].values())
    assert total == s1["interactions"] == query(demo_db, "SELECT COUNT(*) FROM interactions")[0][0]
    assert s1["folds"]["cold"]["users"] > 0 and s1["folds"]["test"]["users"] > 0
    # A different seed on request gives a different split.
    s3 = split(demo_db, "--resplit", "--seed", "43")
    assert s3["split_id"] != s1["split_id"]
    assert query(demo_db, "SELECT COUNT(*) FROM splits WHERE active = 1") == [(1,)]


def test_no_leakage_from_test_fold_into_train_features(demo_db):
    s = split(demo_db)
    sid = s["split_id"]
    snap = lambda: (query(demo_db, "SELECT * FROM user_aggregates WHERE split_id = ? ORDER BY 2", sid),
                    query(demo_db, "SELECT * FROM work_aggregates WHERE split_id = ? ORDER BY 2", sid),
                    query(demo_db, "SELECT * FROM user_fav_subjects ORDER BY 1, 2"))
    before = snap()
    con = sqlite3.connect(demo_db)
    test_rows = con.execute("SELECT user_id, item_idx FROM split_folds WHERE split_id = ? "
                            "AND fold = 2 LIMIT 50", (sid,)).fetchall()
    assert test_rows
    # Change the ratings of test interactions and delete one: train features must not move.
    for u, i in test_rows[1:]:
        con.execute("UPDATE interactions SET rating = CASE WHEN rating = 10 THEN 1 ELSE 10 END "
                    "WHERE user_id = ? AND item_idx = ?", (u, i))
    con.execute("DELETE FROM interactions WHERE user_id = ? AND item_idx = ?", test_rows[0])
    con.commit()
    split(demo_db)
    assert snap() == before
    # The check can fail: a train change moves the aggregates.
    u, i = con.execute("SELECT user_id, item_idx FROM split_folds WHERE split_id = ? AND fold = 0 "
                       "AND EXISTS (SELECT 1 FROM interactions x WHERE x.user_id = split_folds.user_id "
                       "AND x.item_idx = split_folds.item_idx AND x.rating BETWEEN 1 AND 9) LIMIT 1",
                       (sid,)).fetchone()
    con.execute("UPDATE interactions SET rating = rating + 1 WHERE user_id = ? AND item_idx = ?",
                (u, i))
    con.commit()
    con.close()
    split(demo_db)
    after = snap()
    assert after[0] != before[0] and after[1] != before[1]


def test_export_matches_the_split(demo_db, tmp_path):
    out = tmp_path / "export"
    p = run("split", "--db", demo_db, "--export", out)
    assert "exported" in p.stdout
    meta = json.loads((out / "split.json").read_text())
    rows = {}
    for fold in ["train", "val", "test", "cold"]:
        with open(out / f"{fold}.csv") as f:
            r = list(csv.DictReader(f))
        assert r and set(r[0]) == {"user", "item_idx", "rating"}
        rows[fold] = r
    fold_ids = {"train": 0, "val": 1, "test": 2, "cold": 3}
    for fold, r in rows.items():
        n = query(demo_db, "SELECT COUNT(*) FROM split_folds WHERE split_id = ? AND fold = ?",
                  meta["split_id"], fold_ids[fold])[0][0]
        assert len(r) == n
    cold_users = {x["user"] for x in rows["cold"]}
    assert not cold_users & {x["user"] for x in rows["train"]}


def test_split_without_interactions_fails_clearly(tmp_path):
    p = run("split", "--db", tmp_path / "empty.db", check=False)
    assert p.returncode != 0 and "import first" in p.stderr


@pytest.mark.skipif(data_dir() is None, reason="../shared/data not present")
def test_real_data_split(tmp_path):
    d = data_dir()
    db = tmp_path / "real.db"
    import_(db, d / "bookcrossing", tmp_path=tmp_path)
    s = split(db)
    f = s["folds"]
    assert f["cold"]["users"] > 1000
    assert 0.7 < f["train"]["interactions"] / s["interactions"] < 0.85
