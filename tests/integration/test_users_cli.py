"""bookrec users create|claim: accounts made by an operator, with Argon2id hashes as the
gateway makes them, and clean failures (exit 1, one line, nothing written)."""
import sqlite3
import subprocess

from conftest import BIN, FIX, ROOT, import_, query, run


def run_in(*args, stdin="", check=True):
    """run() with a password on stdin."""
    p = subprocess.run([BIN, *map(str, args)], input=stdin, capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    if check and p.returncode != 0:
        raise AssertionError(f"bookrec {' '.join(map(str, args))} failed ({p.returncode}):\n"
                             f"{p.stdout}\n{p.stderr}")
    return p


def accounts(db):
    return query(db, "SELECT account_id, user_id, username, email, password_hash FROM accounts "
                     "ORDER BY account_id")


def test_help():
    assert "create" in run("users", "--help").stdout
    for sub in ["create", "claim"]:
        out = run("users", sub, "--help").stdout
        assert out.startswith("usage: bookrec users " + sub) and "--password-stdin" in out
    p = run("users", check=False)
    assert p.returncode == 2 and "usage" in p.stderr
    p = run("users", "frobnicate", check=False)
    assert p.returncode == 2 and "unknown command" in p.stderr


def test_create_stores_an_argon2id_hash_and_refuses_duplicates(db):
    p = run_in("users", "create", "--db", db, "--username", "Alice", "--email",
               "Alice@Example.org", "--password-stdin", stdin="correct horse\n")
    assert "created account Alice" in p.stdout and "password" not in p.stdout
    (acc,) = accounts(db)
    assert acc[2:4] == ("Alice", "Alice@Example.org")
    assert acc[4].startswith("$argon2id$v=19$m=65536,t=2,p=1$")
    assert query(db, "SELECT source, external_id FROM users WHERE user_id = ?", acc[1]) == \
        [("api", "Alice")]

    # Same username in another case, or the same email: exit 1 with a reason, nothing written.
    p = run_in("users", "create", "--db", db, "--username", "alice", "--email", "b@example.org",
               "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "username alice is taken" in p.stderr
    p = run_in("users", "create", "--db", db, "--username", "bob", "--email",
               "ALICE@example.org", "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "email" in p.stderr
    assert len(accounts(db)) == 1
    assert query(db, "SELECT COUNT(*) FROM users") == [(1,)]


def test_create_without_stdin_generates_a_password(db):
    p = run("users", "create", "--db", db, "--username", "bob", "--email", "bob@example.org")
    line = next(l for l in p.stdout.splitlines() if l.startswith("password: "))
    assert len(line.split()[1]) >= 16
    # Two runs never print the same password (nor store the same hash: salts differ).
    p2 = run("users", "create", "--db", db, "--username", "bob2", "--email", "bob2@x.org")
    assert line not in p2.stdout
    hashes = [a[4] for a in accounts(db)]
    assert len(set(hashes)) == 2 and all(h.startswith("$argon2id$") for h in hashes)


def test_bad_input_fails_cleanly(db):
    cases = [
        (["--username", "ab", "--email", "a@b.org"], "invalid username"),
        (["--username", "a b c", "--email", "a@b.org"], "invalid username"),
        (["--username", "x'; DROP TABLE users;--", "--email", "a@b.org"], "invalid username"),
        (["--username", "abc", "--email", "no-at-sign"], "invalid email"),
        (["--username", "abc"], "--email"),
        (["--username", "abc", "--email", "a@b.org", "--bogus"], "unknown option"),
    ]
    for args, msg in cases:
        p = run_in("users", "create", "--db", db, *args, "--password-stdin",
                   stdin="long enough pw\n", check=False)
        assert p.returncode == 1 and msg in p.stderr, (args, p.stderr)
    p = run_in("users", "create", "--db", db, "--username", "abc", "--email", "a@b.org",
               "--password-stdin", stdin="", check=False)
    assert p.returncode == 1 and "empty password" in p.stderr
    p = run_in("users", "create", "--db", db, "--username", "abc", "--email", "a@b.org",
               "--password-stdin", stdin="x" * 5000, check=False)
    assert p.returncode == 1 and "longer than" in p.stderr
    # The gateway's password rules hold here too.
    p = run_in("users", "create", "--db", db, "--username", "abc", "--email", "a@b.org",
               "--password-stdin", stdin="short\n", check=False)
    assert p.returncode == 1 and "at least 8" in p.stderr
    assert not db.exists() or accounts(db) == []


def test_create_with_favorite_subjects(db):
    run("users", "create", "--db", db, "--username", "first", "--email", "f@x.org")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO subjects (subject_id, name, n_books) VALUES (1, 'fantasy', 3), "
                "(2, 'science fiction', 2)")
    con.commit()
    con.close()
    p = run_in("users", "create", "--db", db, "--username", "carol", "--email", "c@x.org",
               "--subjects", "Fantasy, sci-fi", "--password-stdin", stdin="long enough pw\n")
    uid = int(p.stdout.split("user_id ")[1].rstrip(")\n"))
    assert query(db, "SELECT subject_id, origin FROM user_fav_subjects WHERE user_id = ? "
                     "ORDER BY subject_id", uid) == [(1, "chosen"), (2, "chosen")]
    p = run_in("users", "create", "--db", db, "--username", "dave", "--email", "d@x.org",
               "--subjects", "fantasy,cooking", "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and 'unknown subject "cooking"' in p.stderr
    assert len(accounts(db)) == 2


def test_claim_an_imported_reader(db, tmp_path):
    import_(db, FIX / "generic", tmp_path=tmp_path)
    uid, ext = query(db, "SELECT user_id, external_id FROM users ORDER BY user_id")[0]
    n_ratings = query(db, "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid)[0][0]
    assert n_ratings > 0
    p = run_in("users", "claim", "--db", db, "--user-id", uid, "--username", "warm_reader",
               "--email", "warm@example.org", "--password-stdin", stdin="long enough pw\n")
    assert f"claimed account warm_reader (account_id {uid}, user_id {uid})" in p.stdout
    (acc,) = accounts(db)
    assert acc[1] == uid and acc[4].startswith("$argon2id$")
    # The reader keeps its identity and its ratings.
    assert query(db, "SELECT external_id FROM users WHERE user_id = ?", uid) == [(ext,)]
    assert query(db, "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid) == \
        [(n_ratings,)]

    p = run_in("users", "claim", "--db", db, "--user-id", uid, "--username", "again",
               "--email", "again@example.org", "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "already has an account" in p.stderr
    p = run_in("users", "claim", "--db", db, "--user-id", 999999, "--username", "ghost",
               "--email", "ghost@example.org", "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "no reader with user id 999999" in p.stderr
    p = run_in("users", "claim", "--db", db, "--username", "ghost", "--email", "g@x.org",
               "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "--user-id" in p.stderr
    p = run_in("users", "claim", "--db", db, "--user-id", "-3", "--username", "ghost",
               "--email", "g@x.org", "--password-stdin", stdin="long enough pw\n", check=False)
    assert p.returncode == 1 and "non-negative" in p.stderr
    assert len(accounts(db)) == 1


def test_reimport_does_not_bring_back_a_deleted_reader(db, tmp_path):
    """DELETE /me marks the reader deleted and removes their ratings (br_account_delete);
    importing their source again must not restore those ratings for training."""
    import_(db, FIX / "generic", tmp_path=tmp_path)
    uid = query(db, "SELECT user_id FROM users ORDER BY user_id")[0][0]
    assert query(db, "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid)[0][0] > 0
    con = sqlite3.connect(db)
    con.execute("DELETE FROM interactions WHERE user_id = ?", (uid,))
    con.execute("UPDATE users SET deleted_at = 1 WHERE user_id = ?", (uid,))
    con.commit()
    con.close()
    import_(db, FIX / "generic", tmp_path=tmp_path)
    assert query(db, "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid) == [(0,)]
    others = query(db, "SELECT COUNT(*) FROM interactions WHERE user_id <> ?", uid)[0][0]
    assert others > 0
