"""Black-box tests of the gateway (`bookrec serve`, docs/api.md, docs/api/openapi.json): every
public endpoint over HTTP: happy paths, authentication (bearer, cookie, CSRF), pagination
(page/page_size, the keyset cursor of /me/ratings), recommendation modes (popular, subject,
behavioral with fold-in), the response cache, events, health, metrics, admin, the OpenAPI
document against the real routes, and bad inputs (malformed JSON, huge bodies and headers,
out-of-range numbers, unknown ids, SQL metacharacters, path traversal, wrong content types),
each answered with a 4xx JSON error that writes nothing (row counts of the SQLite database
compared before and after). A second server with a low per-address limit checks 429.

A module fixture makes a demo catalog, trains a small model and publishes it, then starts
`bookrec serve` (gateway and the five model services in one process) on a free port."""
import http.client
import json
import os
import re
import select
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, run

ADMIN = "test-admin-token-0123456789"
MAX_BODY = 65536
WARM_MIN = 5
FAST = ["--set", "als.iterations=4", "--set", "als.factors=16", "--set", "subject.epochs=2",
        "--set", "subject.dim=16"]
API = "/api/v1"
TABLES = ("accounts", "users", "sessions", "interactions", "user_fav_subjects", "events",
          "works", "subjects")


# ---- helpers ----

class Server:
    """`bookrec [--set K=V]... serve --listen 127.0.0.1:0 --db DB --artifacts ART`."""

    def __init__(self, db, art, sets, log):
        args = [BIN]
        for s in sets:
            args += ["--set", s]
        args += ["serve", "--listen", "127.0.0.1:0", "--db", str(db), "--artifacts", str(art)]
        self.log = log
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=open(log, "w"),
                                     text=True, cwd=ROOT, env=clean_env())
        try:
            line = ""
            if select.select([self.proc.stdout], [], [], 30)[0]:
                line = self.proc.stdout.readline()
            m = re.search(r"listening on (http://127\.0\.0\.1:(\d+))", line)
            assert m, f"serve printed no URL: {line!r}\n{self.logtext()}"
            self.url, self.port = m.group(1), int(m.group(2))
            wait_ready(self.url)
        except BaseException:
            self.stop()
            raise

    def logtext(self):
        try:
            return Path(self.log).read_text()[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def req(self, method, path, token=None, json_body=None, data=None, headers=None,
            cookie=None, csrf=None, params=None):
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        if cookie:
            h["Cookie"] = "bookrec_session=" + cookie
        if csrf:
            h["X-CSRF-Token"] = csrf
        if json_body is not None:
            data = json.dumps(json_body)
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        return requests.request(method, self.url + path, data=data, headers=h, params=params,
                                timeout=30)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, json_body=body, **kw)

    def raw(self, method, path, headers=None, body=None):
        """A request whose path goes out exactly as written (no dot-segment cleaning)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.putrequest(method, path, skip_accept_encoding=True)
            for k, v in (headers or {}).items():
                c.putheader(k, v)
            if body is not None:
                c.putheader("Content-Length", str(len(body)))
            c.endheaders(body)
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()


def clean_env():
    e = dict(os.environ)
    for k in list(e):
        if k == "BOOKREC_CONFIG" or k.startswith("BOOKREC_SERVE_") or k == "PORT":
            e.pop(k)
    return e


def wait_ready(url, timeout=20.0):
    end = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url + "/health/ready", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > end:
            raise AssertionError("the server never became ready")
        time.sleep(0.1)


def counts(db):
    con = sqlite3.connect(db, timeout=30)
    try:
        return {t: con.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}
    finally:
        con.close()


def sql(db, q, *params):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(q, params).fetchall()
    finally:
        con.close()


def assert_error(r, status, code=None):
    """A JSON error {"error": {"code", "message"}} with that status (and code)."""
    assert r.status_code == status, f"{r.status_code} != {status}: {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    e = r.json()["error"]
    assert set(e) == {"code", "message"} and e["message"], e
    if code:
        assert e["code"] == code, e
    return e


def uname(prefix="u"):
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def ids(page):
    return [it["book"]["id"] for it in page["items"]]


# ---- fixtures ----

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Demo catalog (SQLite), a small model trained and published."""
    tmp = tmp_path_factory.mktemp("gateway")
    db, art = tmp / "catalog.db", tmp / "art"
    run("demo-data", tmp / "demo")
    run("import", "--db", db, "--report-json", tmp / "import.json", tmp / "demo")
    run("split", "--db", db)
    run(*FAST, "train", "--db", db, "--out", tmp / "model", "--seed", 1, "--pool", "perdim")
    run("publish", "--db", db, "--model", tmp / "model", "--artifacts", art)
    w = {"tmp": tmp, "db": db, "art": art}
    w["n_items"] = sql(db, "SELECT MAX(item_idx) + 1 FROM works")[0][0]
    # An edition with both ISBNs, of a titled work.
    w["isbn13"], w["isbn10"], w["isbn_book"] = sql(
        db, "SELECT e.isbn13, e.isbn10, e.item_idx FROM editions e JOIN works w "
            "ON w.item_idx = e.item_idx WHERE e.isbn10 IS NOT NULL AND w.has_title = 1 "
            "ORDER BY e.isbn13 LIMIT 1")[0]
    # Subjects with many books, for favorites and filters.
    w["subjects"] = [r[0] for r in sql(db, "SELECT name FROM subjects ORDER BY n_books DESC, "
                                           "name LIMIT 6")]
    return w


@pytest.fixture(scope="module")
def gw(world):
    s = Server(world["db"], world["art"],
               [f"serve.admin_token={ADMIN}", f"models.warm_min_ratings={WARM_MIN}",
                f"serve.max_body={MAX_BODY}", "serve.rate_ip=2000"],
               world["tmp"] / "serve.log")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def books(gw):
    """Ids of popular books with metadata (the first 60 of the popular list)."""
    out = []
    for page in (1, 2, 3):
        r = gw.get(f"{API}/popular", params={"page": page, "page_size": 20})
        assert r.status_code == 200, r.text
        out += ids(r.json())
    assert len(out) == 60 and len(set(out)) == 60
    return out


def signup(gw, favorites=None, name=None, password="correct horse 1"):
    name = name or uname()
    body = {"username": name, "email": f"{name}@example.org", "password": password}
    if favorites is not None:
        body["favorite_subjects"] = favorites
    r = gw.post(f"{API}/auth/signup", body)
    assert r.status_code == 201, r.text
    s = r.json()
    s["name"], s["password"] = name, password
    s["cookie"] = r.cookies.get("bookrec_session")
    return s


@pytest.fixture
def reader(gw):
    return signup(gw)


# ---- accounts ----

def test_signup_login_logout(gw, world):
    name = uname("Alice")
    r = gw.post(f"{API}/auth/signup", {"username": name, "email": f"{name}@Example.org",
                                       "password": "a long password",
                                       "favorite_subjects": world["subjects"][:2]})
    assert r.status_code == 201, r.text
    s = r.json()
    assert set(s) == {"account", "token", "csrf_token", "expires_in"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", s["token"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", s["csrf_token"]) and s["csrf_token"] != s["token"]
    a = s["account"]
    assert a["username"] == name and a["ratings"] == 0 and a["behavioral"] is False
    assert a["warm_min_ratings"] == WARM_MIN
    assert sorted(x["name"] for x in a["favorite_subjects"]) == sorted(world["subjects"][:2])
    sc = r.headers["Set-Cookie"]
    assert sc.startswith(f"bookrec_session={s['token']};")
    for attr in ("HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="):
        assert attr in sc, sc
    # The password is stored as an Argon2id hash, the token only hashed.
    (pw_hash,) = sql(world["db"], "SELECT password_hash FROM accounts WHERE account_id = ?",
                     a["id"])[0]
    assert pw_hash.startswith("$argon2id$") and "a long password" not in pw_hash
    assert sql(world["db"], "SELECT COUNT(*) FROM sessions WHERE token_hash = ?",
               s["token"])[0][0] == 0

    me = gw.get(f"{API}/me", token=s["token"])
    assert me.status_code == 200 and me.json()["account"] == a
    assert gw.get(f"{API}/me", cookie=s["token"]).json()["account"]["id"] == a["id"]

    # Login by username (any case) and by e-mail; each gives a new session.
    for login in (name, name.upper(), f"{name}@example.org"):
        r = gw.post(f"{API}/auth/login", {"login": login, "password": "a long password"})
        assert r.status_code == 200, r.text
        assert r.json()["account"]["id"] == a["id"] and r.json()["token"] != s["token"]
        assert "bookrec_session=" in r.headers["Set-Cookie"]
    assert_error(gw.post(f"{API}/auth/login", {"login": name, "password": "wrong password"}),
                 401, "invalid_credentials")
    assert_error(gw.post(f"{API}/auth/login", {"login": uname(), "password": "whatever1"}),
                 401, "invalid_credentials")

    r = gw.post(f"{API}/auth/logout", token=s["token"])
    assert r.status_code == 200 and r.json() == {"signed_out": True}
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    assert_error(gw.get(f"{API}/me", token=s["token"]), 401, "unauthorized")
    # A stale cookie is just "signed out".
    assert_error(gw.get(f"{API}/me", cookie=s["token"]), 401, "unauthorized")
    assert gw.get(f"{API}/popular", cookie=s["token"]).status_code == 200


def test_auth_failures(gw, reader):
    bad = "A" * 43
    for method, path in (("GET", "/me"), ("PATCH", "/me"), ("DELETE", "/me"),
                         ("GET", "/me/ratings"), ("POST", "/ratings"),
                         ("DELETE", "/ratings/1"), ("POST", "/auth/logout")):
        body = {} if method in ("POST", "PATCH") else None
        assert_error(gw.req(method, API + path, json_body=body), 401, "unauthorized")
        assert_error(gw.req(method, API + path, json_body=body, token=bad), 401)
        assert_error(gw.req(method, API + path, json_body=body, token="not a token!"), 401)
        assert_error(gw.req(method, API + path, json_body=body,
                            headers={"Authorization": "Basic dXNlcjpwYXNz"}), 401)
    # A bad bearer token is refused even where signing in is optional.
    assert_error(gw.get(f"{API}/popular", token=bad), 401)
    # The bearer decides when both are sent.
    assert_error(gw.get(f"{API}/me", token=bad, cookie=reader["token"]), 401)
    assert gw.get(f"{API}/me", token=reader["token"], cookie=bad).status_code == 200


def test_csrf_for_cookie_writes(gw, world, reader, books):
    before = counts(world["db"])
    e = assert_error(gw.post(f"{API}/ratings", {"book": books[0], "rating": 7},
                             cookie=reader["cookie"]), 403, "csrf")
    assert "X-CSRF-Token" in e["message"]
    assert_error(gw.post(f"{API}/ratings", {"book": books[0], "rating": 7},
                         cookie=reader["cookie"], csrf="B" * 43), 403, "csrf")
    assert_error(gw.req("PATCH", f"{API}/me", json_body={"email": "x@y.org"},
                        cookie=reader["cookie"]), 403, "csrf")
    assert_error(gw.req("DELETE", f"{API}/me", cookie=reader["cookie"]), 403, "csrf")
    assert_error(gw.post(f"{API}/events", {"type": "click", "surface": "search",
                                           "book": books[0]}, cookie=reader["cookie"]), 403)
    assert counts(world["db"]) == before
    # With the session's CSRF token it works; bearer clients need none; reads need none.
    r = gw.post(f"{API}/ratings", {"book": books[0], "rating": 7}, cookie=reader["cookie"],
                csrf=reader["csrf_token"])
    assert r.status_code == 201, r.text
    r = gw.post(f"{API}/ratings", {"book": books[1]}, token=reader["token"])
    assert r.status_code == 201 and r.json() == {"book": books[1], "rating": None}
    assert gw.get(f"{API}/me/ratings", cookie=reader["cookie"]).status_code == 200
    assert counts(world["db"])["interactions"] == before["interactions"] + 2


def test_signup_validation_writes_nothing(gw, world):
    taken = signup(gw)
    before = counts(world["db"])
    good = {"username": uname(), "email": f"{uname()}@example.org", "password": "long enough"}
    cases = [
        (dict(good, username="ab"), 400),
        (dict(good, username="x" * 33), 400),
        (dict(good, username="a'; DROP TABLE works;--"), 400),
        (dict(good, username="al ice"), 400),
        (dict(good, username="élise"), 400),
        (dict(good, email="not-an-email"), 400),
        (dict(good, email="a@b@c.org"), 400),
        (dict(good, email="x" * 250 + "@e.org"), 400),
        (dict(good, password="short"), 400),
        (dict(good, password="p" * 129), 400),
        (dict(good, password=12345678), 400),
        (dict(good, favorite_subjects=["no such subject at all"]), 400),
        (dict(good, favorite_subjects=["x'); DROP TABLE users;--"]), 400),
        (dict(good, favorite_subjects="fantasy"), 400),
        (dict(good, favorite_subjects=["fantasy"] * 33), 400),
        (dict(good, admin=True), 400),
        ({k: v for k, v in good.items() if k != "password"}, 400),
        (dict(good, username=taken["name"].upper()), 409),
        (dict(good, email=f"{taken['name']}@EXAMPLE.org"), 409),
    ]
    for body, status in cases:
        assert_error(gw.post(f"{API}/auth/signup", body), status)
    assert counts(world["db"]) == before
    assert sql(world["db"], "SELECT COUNT(*) FROM works")[0][0] == before["works"]


def test_login_rate_limited(gw):
    name = uname()
    statuses = []
    for _ in range(9):
        r = gw.post(f"{API}/auth/login", {"login": name, "password": "wrong password"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            e = assert_error(r, 429, "rate_limited")
            assert int(r.headers["Retry-After"]) >= 1, e
            break
    assert statuses[0] == 401 and statuses[-1] == 429, statuses


def test_patch_me(gw, world):
    s = signup(gw, favorites=world["subjects"][:1])
    other = signup(gw)
    h = s["token"]
    r = gw.req("PATCH", f"{API}/me", token=h,
               json_body={"email": f"new-{s['name']}@example.org",
                          "favorite_subjects": world["subjects"][1:3]})
    assert r.status_code == 200, r.text
    a = r.json()["account"]
    assert a["email"] == f"new-{s['name']}@example.org"
    assert sorted(x["name"] for x in a["favorite_subjects"]) == sorted(world["subjects"][1:3])
    assert gw.get(f"{API}/me", token=h).json()["account"] == a
    # Clearing favorites; an empty patch changes nothing.
    r = gw.req("PATCH", f"{API}/me", token=h, json_body={"favorite_subjects": []})
    assert r.status_code == 200 and r.json()["account"]["favorite_subjects"] == []
    assert gw.req("PATCH", f"{API}/me", token=h, json_body={}).json()["account"]["email"] == \
        a["email"]
    before = counts(world["db"])
    for body, status in (({"email": f"{other['name']}@example.org"}, 409),
                         ({"email": "nope"}, 400), ({"password": "short"}, 400),
                         ({"username": "renamed"}, 400), ({"favorite_subjects": ["zzz no"]}, 400),
                         ({"email": 5}, 400)):
        assert_error(gw.req("PATCH", f"{API}/me", token=h, json_body=body), status)
    assert counts(world["db"]) == before
    assert gw.get(f"{API}/me", token=h).json()["account"]["email"] == a["email"]
    # A new password ends the other sessions, keeps this one, and is the one to log in with.
    second = gw.post(f"{API}/auth/login", {"login": s["name"], "password": s["password"]})
    assert second.status_code == 200
    r = gw.req("PATCH", f"{API}/me", token=h, json_body={"password": "another password"})
    assert r.status_code == 200, r.text
    assert gw.get(f"{API}/me", token=h).status_code == 200
    assert_error(gw.get(f"{API}/me", token=second.json()["token"]), 401)
    assert_error(gw.post(f"{API}/auth/login", {"login": s["name"], "password": s["password"]}),
                 401)
    assert gw.post(f"{API}/auth/login", {"login": s["name"],
                                         "password": "another password"}).status_code == 200


def test_delete_me(gw, world, books):
    s = signup(gw, favorites=world["subjects"][:2])
    uid = s["account"]["id"]
    for b in books[:3]:
        assert gw.post(f"{API}/ratings", {"book": b, "rating": 8},
                       token=s["token"]).status_code == 201
    assert gw.post(f"{API}/events", {"type": "click", "surface": "recommendations",
                                     "book": books[0]}, token=s["token"]).status_code == 202
    assert sql(world["db"], "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid)[0][0] == 3
    r = gw.req("DELETE", f"{API}/me", token=s["token"])
    assert r.status_code == 200 and r.json() == {"deleted": True}, r.text
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    assert_error(gw.get(f"{API}/me", token=s["token"]), 401)
    assert_error(gw.post(f"{API}/auth/login", {"login": s["name"], "password": s["password"]}),
                 401, "invalid_credentials")
    db = world["db"]
    assert sql(db, "SELECT COUNT(*) FROM interactions WHERE user_id = ?", uid)[0][0] == 0
    assert sql(db, "SELECT COUNT(*) FROM user_fav_subjects WHERE user_id = ?", uid)[0][0] == 0
    assert sql(db, "SELECT COUNT(*) FROM accounts WHERE account_id = ?", uid)[0][0] == 0
    assert sql(db, "SELECT COUNT(*) FROM sessions WHERE account_id = ?", uid)[0][0] == 0
    assert sql(db, "SELECT COUNT(*) FROM events WHERE account_id = ?", uid)[0][0] == 0
    assert sql(db, "SELECT deleted_at IS NOT NULL FROM users WHERE user_id = ?", uid) == [(1,)]
    # The username is free again.
    again = signup(gw, name=s["name"])
    assert again["account"]["id"] != uid


# ---- ratings ----

def test_ratings_post_and_delete(gw, world, reader, books):
    t = reader["token"]
    r = gw.post(f"{API}/ratings", {"book": books[5], "rating": 3}, token=t)
    assert r.status_code == 201 and r.json() == {"book": books[5], "rating": 3}
    r = gw.post(f"{API}/ratings", {"book": books[5], "rating": 9}, token=t)  # replaces
    assert r.status_code == 201
    assert gw.get(f"{API}/books/{books[5]}", token=t).json()["book"]["my_rating"]["rating"] == 9
    r = gw.post(f"{API}/ratings", {"book": books[6], "rating": None}, token=t)
    assert r.status_code == 201 and r.json()["rating"] is None
    uid = reader["account"]["id"]
    assert sorted(sql(world["db"], "SELECT item_idx, rating FROM interactions WHERE "
                                   "user_id = ?", uid)) == sorted([(books[5], 9), (books[6], 0)])
    before = counts(world["db"])
    for body, status in (({"book": books[7], "rating": 0}, 400),
                         ({"book": books[7], "rating": 11}, 400),
                         ({"book": books[7], "rating": -1}, 400),
                         ({"book": books[7], "rating": 5.5}, 400),
                         ({"book": books[7], "rating": "5"}, 400),
                         ({"book": -1, "rating": 5}, 400),
                         ({"book": 2 ** 31, "rating": 5}, 400),
                         ({"book": 10 ** 30, "rating": 5}, 400),
                         ({"book": str(books[7])}, 400),
                         ({"rating": 5}, 400),
                         ({"book": books[7], "rating": 5, "user": 1}, 400),
                         ({"book": world["n_items"] + 1000, "rating": 5}, 404)):
        assert_error(gw.post(f"{API}/ratings", body, token=t), status)
    assert counts(world["db"]) == before
    r = gw.req("DELETE", f"{API}/ratings/{books[5]}", token=t)
    assert r.status_code == 200 and r.json() == {"deleted": True}
    assert_error(gw.req("DELETE", f"{API}/ratings/{books[5]}", token=t), 404, "not_found")
    for bad in ("abc", "-1", "1.5", "99999999999999999999", "2147483647", "%27%3B--"):
        assert_error(gw.req("DELETE", f"{API}/ratings/{bad}", token=t), 400)
    assert gw.get(f"{API}/books/{books[5]}", token=t).json()["book"]["my_rating"] is None


def test_my_ratings_keyset_pagination(gw, world, reader, books):
    t = reader["token"]
    rated = books[10:27]
    for i, b in enumerate(rated):
        assert gw.post(f"{API}/ratings", {"book": b, "rating": 1 + i % 10},
                       token=t).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        r = gw.get(f"{API}/me/ratings", token=t, params=params)
        assert r.status_code == 200, r.text
        p = r.json()
        assert set(p) == {"items", "next_cursor", "has_more"}
        assert len(p["items"]) <= 5
        for it in p["items"]:
            assert it["metadata"] is None or it["metadata"]["id"] == it["book"]
        seen += [(it["ts"], it["book"]) for it in p["items"]]
        pages += 1
        if pages == 2:
            # A rating added while paging is newer (ts in seconds: wait for the next one),
            # so it sorts before the cursor: the pages neither repeat nor skip a row.
            time.sleep(1.1)
            assert gw.post(f"{API}/ratings", {"book": books[40], "rating": 4},
                           token=t).status_code == 201
        if not p["has_more"]:
            assert p["next_cursor"] is None
            break
        assert re.fullmatch(r"\d+\.\d+", p["next_cursor"])
        cursor = p["next_cursor"]
    assert pages == 4
    assert [b for _, b in seen] and len(seen) == len(set(seen)) == len(rated)
    assert sorted(b for _, b in seen) == sorted(rated)
    assert seen == sorted(seen, reverse=True)  # newest first, then item id descending
    first = gw.get(f"{API}/me/ratings", token=t, params={"limit": 100}).json()
    assert first["items"][0]["book"] == books[40] and len(first["items"]) == len(rated) + 1
    assert first["has_more"] is False
    for bad in ({"cursor": "garbage"}, {"cursor": "1.2x"}, {"cursor": "-1.5"},
                {"cursor": "12"}, {"cursor": "1." + "9" * 70}, {"cursor": "1.2;DROP"},
                {"limit": 0}, {"limit": 101}, {"limit": -3}, {"limit": "ten"}):
        assert_error(gw.get(f"{API}/me/ratings", token=t, params=bad), 400)


# ---- recommendations ----

def test_recommendations_anonymous(gw, world):
    r = gw.get(f"{API}/recommendations")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["mode"] == "popular" and p["requested"] == "auto" and p["ratings"] == 0
    assert p["page"] == 1 and p["page_size"] == 20 and len(p["items"]) == 20 and p["has_more"]
    assert re.fullmatch(r"\d{8}-\d{6}-\d{3}-[0-9a-f]{8}", p["version"])
    assert r.headers["X-Model-Version"] == p["version"]
    popular = gw.get(f"{API}/popular").json()
    assert ids(p) == ids(popular)
    p2 = gw.get(f"{API}/recommendations", params={"page": 2}).json()
    assert p2["page"] == 2 and not set(ids(p)) & set(ids(p2))
    # Cold: subjects given by an anonymous caller.
    subj = ",".join(world["subjects"][:2])
    c = gw.get(f"{API}/recommendations", params={"subjects": subj})
    assert c.status_code == 200, c.text
    assert c.json()["mode"] == "subject" and ids(c.json()) != ids(p)
    assert c.json()["items"] and all(it["book"]["title"] for it in c.json()["items"])
    assert gw.get(f"{API}/recommendations", params={"subjects": subj, "mode": "subject"}
                  ).json()["mode"] == "subject"
    assert_error(gw.get(f"{API}/recommendations", params={"subjects": "no such subject"}),
                 422)
    assert_error(gw.get(f"{API}/recommendations", params={"mode": "behavioral"}), 422,
                 "not_enough_ratings")
    assert_error(gw.get(f"{API}/recommendations", params={"mode": "subject"}), 422,
                 "no_subjects")


def test_recommendations_bad_arguments(gw, world):
    for params in ({"mode": "magic"}, {"mode": "AUTO"}, {"a": "2"}, {"a": "-0.1"},
                   {"a": "nan"}, {"a": "inf"}, {"a": "x"}, {"page": "0"}, {"page": "51"},
                   {"page": "-1"}, {"page": "1e3"}, {"page_size": "0"}, {"page_size": "101"},
                   {"page_size": "-5"}, {"page_size": "99999999999999999999"},
                   {"subjects": "x" * 1001}):
        assert_error(gw.get(f"{API}/recommendations", params=params), 400)


@pytest.mark.parametrize("mode", ["popular", "subject", "behavioral"])
def test_recommendations_largest_page(gw, world, books, mode):
    """page 50 x page_size 100 is within the documented limits: never a 5xx."""
    params, t = {"page": 50, "page_size": 100}, None
    if mode == "subject":
        params["subjects"] = ",".join(world["subjects"][:2])
    if mode == "behavioral":
        t = signup(gw)["token"]
        for b in books[30:30 + WARM_MIN]:
            assert gw.post(f"{API}/ratings", {"book": b, "rating": 8}, token=t).status_code == 201
    r = gw.get(f"{API}/recommendations", params=params, token=t)
    assert r.status_code == 200, r.text
    assert r.json()["mode"] == mode and r.json()["page"] == 50
    assert isinstance(r.json()["items"], list) and r.json()["has_more"] is False
    params["page"] = 10
    r = gw.get(f"{API}/recommendations", params=params, token=t)
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) <= 100


def test_recommendations_subject_reader(gw, world):
    s = signup(gw, favorites=world["subjects"][:3])
    t = s["token"]
    r = gw.get(f"{API}/recommendations", token=t)
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["mode"] == "subject" and p["reason"] and len(p["items"]) == 20
    a0 = gw.get(f"{API}/recommendations", token=t, params={"a": 0}).json()
    a1 = gw.get(f"{API}/recommendations", token=t, params={"a": 1}).json()
    assert a0["a"] == 0 and a1["a"] == 1
    assert ids(a0) != ids(a1), "a changes nothing"
    # a = 0 is popularity alone (among books with subjects).
    assert_error(gw.get(f"{API}/recommendations", token=t, params={"mode": "behavioral"}),
                 422, "not_enough_ratings")


def test_recommendations_fold_in_and_cache(gw, world, books):
    s = signup(gw)  # no favorites
    t = s["token"]
    rated = books[20:20 + WARM_MIN]
    for b in rated[:-1]:
        assert gw.post(f"{API}/ratings", {"book": b, "rating": 9}, token=t).status_code == 201
    p = gw.get(f"{API}/recommendations", token=t).json()
    assert p["mode"] == "popular" and p["ratings"] == WARM_MIN - 1
    assert not set(ids(p)) & set(rated), "read books recommended"
    e = assert_error(gw.get(f"{API}/recommendations", token=t, params={"mode": "behavioral"}),
                     422, "not_enough_ratings")
    assert str(WARM_MIN) in e["message"]
    assert gw.post(f"{API}/ratings", {"book": rated[-1], "rating": 10},
                   token=t).status_code == 201
    # Warm at once: the reader is folded in (rated after the model was trained).
    r1 = gw.get(f"{API}/recommendations", token=t)
    assert r1.status_code == 200, r1.text
    p1 = r1.json()
    assert p1["mode"] == "behavioral" and p1["ratings"] == WARM_MIN
    assert len(p1["items"]) == 20 and not set(ids(p1)) & set(rated)
    assert r1.headers.get("X-Cache") == "miss"
    r2 = gw.get(f"{API}/recommendations", token=t)
    assert r2.headers.get("X-Cache") == "hit" and r2.json() == p1
    assert gw.get(f"{API}/me", token=t).json()["account"]["behavioral"] is True
    beh = gw.get(f"{API}/recommendations", token=t, params={"mode": "behavioral"})
    assert beh.status_code == 200 and ids(beh.json()) == ids(p1)
    # A new rating changes the reader's state: a miss, and the book is gone from the list.
    top = ids(p1)[0]
    assert gw.post(f"{API}/ratings", {"book": top, "rating": 2}, token=t).status_code == 201
    r3 = gw.get(f"{API}/recommendations", token=t)
    assert r3.headers.get("X-Cache") == "miss" and top not in ids(r3.json())
    # Another reader never gets this reader's cached list.
    other = signup(gw)
    r4 = gw.get(f"{API}/recommendations", token=other["token"])
    assert r4.json()["mode"] == "popular" and r4.json()["ratings"] == 0
    # Anonymous calls are cached too.
    q = {"page_size": 7, "page": 3}
    gw.get(f"{API}/recommendations", params=q)
    assert gw.get(f"{API}/recommendations", params=q).headers.get("X-Cache") == "hit"


def test_recommendations_cache_sees_favorite_changes(gw, world):
    """The cache key holds the reader's state: changing favorites must not serve the list
    computed for the old ones."""
    s = signup(gw, favorites=world["subjects"][:1])
    t = s["token"]
    p1 = gw.get(f"{API}/recommendations", token=t).json()
    assert p1["mode"] == "subject"
    assert gw.req("PATCH", f"{API}/me", token=t,
                  json_body={"favorite_subjects": world["subjects"][3:5]}).status_code == 200
    r2 = gw.get(f"{API}/recommendations", token=t)
    assert r2.headers.get("X-Cache") == "miss", "stale list after a change of favorites"
    assert ids(r2.json()) != ids(p1)
    # Cleared favorites: popular.
    assert gw.req("PATCH", f"{API}/me", token=t,
                  json_body={"favorite_subjects": []}).status_code == 200
    assert gw.get(f"{API}/recommendations", token=t).json()["mode"] == "popular"


# ---- books ----

def test_book_detail(gw, world, books):
    b = books[0]
    r = gw.get(f"{API}/books/{b}")
    assert r.status_code == 200, r.text
    d = r.json()["book"]
    assert d["id"] == b and d["title"] and isinstance(d["subjects"], list)
    for k in ("author", "year", "n_ratings", "n_interactions", "avg_rating", "isbn13",
              "editions", "editions_total", "my_rating"):
        assert k in d, k
    assert d["my_rating"] is None and d["editions_total"] >= len(d["editions"]) >= 1
    (n_ed,) = sql(world["db"], "SELECT COUNT(*) FROM editions WHERE item_idx = ?", b)[0]
    assert d["editions_total"] == n_ed
    assert all(re.fullmatch(r"\d{13}", e["isbn13"]) for e in d["editions"])
    assert r.headers.get("X-Model-Version")
    s = signup(gw)
    assert gw.get(f"{API}/books/{b}", token=s["token"]).json()["book"]["my_rating"] is None
    gw.post(f"{API}/ratings", {"book": b, "rating": 6}, token=s["token"])
    mine = gw.get(f"{API}/books/{b}", token=s["token"]).json()["book"]["my_rating"]
    assert mine["rating"] == 6 and mine["ts"] > 1_600_000_000
    assert gw.get(f"{API}/books/{b}").json()["book"]["my_rating"] is None
    assert_error(gw.get(f"{API}/books/{world['n_items'] + 5}"), 404, "not_found")
    assert_error(gw.get(f"{API}/books/2147483646"), 404, "not_found")
    for bad in ("-1", "abc", "1.0", "0x10", "2147483647", "99999999999999999999", "%20",
                "%27%20OR%201%3D1"):
        e = assert_error(gw.get(f"{API}/books/{bad}"), 400)
        assert "'" not in e["message"]


def test_books_by_isbn(gw, world):
    i13, i10, b = world["isbn13"], world["isbn10"], world["isbn_book"]
    hy10 = f"{i10[0]}-{i10[1:4]}-{i10[4:9]}-{i10[9]}"
    hy13 = f"{i13[:3]}-{i13[3]}-{i13[4:7]}-{i13[7:12]}-{i13[12]}"
    for spelling in (i13, i10, hy10, hy13, i10.lower(), f"ISBN {i13}"):
        r = gw.get(f"{API}/books/by-isbn/{requests.utils.quote(spelling)}")
        assert r.status_code == 200, (spelling, r.text)
        assert r.json() == {"book": b}
    assert_error(gw.get(f"{API}/books/by-isbn/12345"), 400, "bad_request")
    assert_error(gw.get(f"{API}/books/by-isbn/978000000000X"), 400)
    # A valid ISBN that is in no edition.
    unknown = next(x for x in ("9780306406157", "9781111111113", "9782222222224")
                   if not sql(world["db"], "SELECT 1 FROM editions WHERE isbn13 = ?", x))
    assert_error(gw.get(f"{API}/books/by-isbn/{unknown}"), 404, "not_found")
    assert_error(gw.get(f"{API}/books/by-isbn/%27%3B%20DROP%20TABLE%20editions%3B--"), 400)
    assert gw.get(f"{API}/books/by-isbn/{i13}").status_code == 200


def test_similar_modes(gw, world, books):
    b = books[3]
    lists = {}
    for mode in ("als", "subject", "hybrid"):
        r = gw.get(f"{API}/books/{b}/similar", params={"mode": mode, "k": 10})
        assert r.status_code == 200, r.text
        p = r.json()
        assert p["book"] == b and p["mode"] == mode and 0 < len(p["items"]) <= 10
        assert b not in ids(p)
        assert r.headers.get("X-Model-Version")
        lists[mode] = ids(p)
    assert len({tuple(v) for v in lists.values()}) == 3, lists
    default = gw.get(f"{API}/books/{b}/similar").json()
    assert default["mode"] == "hybrid" and default["w"] == 0.5 and len(default["items"]) == 20
    w0 = ids(gw.get(f"{API}/books/{b}/similar", params={"w": 0, "k": 10}).json())
    w1 = ids(gw.get(f"{API}/books/{b}/similar", params={"w": 1, "k": 10}).json())
    assert w0 != w1
    assert len(gw.get(f"{API}/books/{b}/similar", params={"k": 100}).json()["items"]) <= 100
    assert_error(gw.get(f"{API}/books/{world['n_items'] + 5}/similar"), 404)
    for params in ({"k": 0}, {"k": -1}, {"k": 101}, {"k": 10 ** 6}, {"k": "9" * 30},
                   {"k": "ten"}, {"w": 2}, {"w": -1}, {"w": "nan"}, {"mode": "magic"},
                   {"mode": "x" * 100}):
        assert_error(gw.get(f"{API}/books/{b}/similar", params=params), 400)
    assert_error(gw.get(f"{API}/books/-4/similar"), 400)


def test_search(gw, world):
    word = sql(world["db"], "SELECT title FROM works WHERE has_title = 1 ORDER BY item_idx "
                            "LIMIT 1")[0][0].split()[-1]
    r = gw.get(f"{API}/search", params={"q": word, "page_size": 5})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["q"] == word and p["subjects"] is None and 0 < len(p["items"]) <= 5
    assert r.headers.get("X-Model-Version")
    # Pagination over a common word.
    q = {"q": "the", "page_size": 10}
    p1 = gw.get(f"{API}/search", params=q).json()
    p2 = gw.get(f"{API}/search", params=dict(q, page=2)).json()
    assert p1["has_more"] and len(p1["items"]) == 10 and p2["page"] == 2
    assert not set(ids(p1)) & set(ids(p2))
    both = gw.get(f"{API}/search", params={"q": "the", "page_size": 20}).json()
    assert ids(both) == ids(p1) + ids(p2)
    # Subject filter: every result has the subject (case-insensitively).
    subj = world["subjects"][0]
    f = gw.get(f"{API}/search", params={"q": "the", "subjects": subj.upper(),
                                        "page_size": 10}).json()
    assert f["items"] and f["subjects"] == subj.upper()
    assert all(subj in it["book"]["subjects"] for it in f["items"])
    nothing = gw.get(f"{API}/search", params={"q": "the", "subjects": "no such subject"})
    assert nothing.status_code == 200 and nothing.json()["items"] == []
    # Quotes and SQL metacharacters are just text.
    before = counts(world["db"])
    for text in ('"the', "it's", "'; DROP TABLE works;--", "a\" OR \"1\"=\"1", "%_*\\"):
        r = gw.get(f"{API}/search", params={"q": text})
        assert r.status_code in (200, 400), r.text
        if r.status_code == 400:
            assert_error(r, 400)
    assert counts(world["db"]) == before
    assert_error(gw.get(f"{API}/search"), 400)
    assert_error(gw.get(f"{API}/search", params={"q": ""}), 400)
    assert_error(gw.get(f"{API}/search", params={"q": "x" * 513}), 400)
    assert_error(gw.get(f"{API}/search", params={"q": " ".join(["word"] * 17)}), 400)
    for params in ({"page": 0}, {"page": 51}, {"page_size": 0}, {"page_size": 101}):
        assert_error(gw.get(f"{API}/search", params=dict(params, q="the")), 400)


def test_subjects(gw, world):
    r = gw.get(f"{API}/subjects", params={"q": "fa"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert items and len(items) <= 10
    assert all({"id", "name", "books"} <= set(it) for it in items)
    assert all(it["name"].startswith("fa") or " fa" in it["name"] for it in items)
    assert [it["books"] for it in items if it["name"].startswith("fa")] == sorted(
        [it["books"] for it in items if it["name"].startswith("fa")], reverse=True)
    assert len(gw.get(f"{API}/subjects", params={"k": 3}).json()["items"]) == 3
    assert len(gw.get(f"{API}/subjects", params={"q": "FA"}).json()["items"]) == len(items)
    for q in ("'; DROP TABLE subjects;--", '"', "%", "_", "\\"):
        r = gw.get(f"{API}/subjects", params={"q": q})
        assert r.status_code == 200 and r.json()["q"] == q
    assert counts(world["db"])["subjects"] == sql(world["db"], "SELECT COUNT(*) FROM subjects"
                                                  )[0][0] > 0
    for params in ({"k": 0}, {"k": 51}, {"k": -1}, {"q": "x" * 200}):
        assert_error(gw.get(f"{API}/subjects", params=params), 400)


def test_popular_pagination(gw):
    p1 = gw.get(f"{API}/popular", params={"page_size": 5}).json()
    p2 = gw.get(f"{API}/popular", params={"page_size": 5, "page": 2}).json()
    ten = gw.get(f"{API}/popular", params={"page_size": 10}).json()
    assert ids(ten) == ids(p1) + ids(p2) and p1["has_more"] and p2["page"] == 2
    assert [it["score"] for it in ten["items"]] == sorted(
        [it["score"] for it in ten["items"]], reverse=True)
    for params in ({"page": 0}, {"page": 51}, {"page_size": 0}, {"page_size": 101},
                   {"page_size": -1}, {"page": "1; DROP"}):
        assert_error(gw.get(f"{API}/popular", params=params), 400)


# ---- events ----

def test_events(gw, world, books, reader):
    db = world["db"]
    before = counts(db)
    ok = {"type": "impression", "surface": "recommendations", "mode": "behavioral",
          "book": books[0], "version": "20260101-000000-000-0123abcd"}
    r = gw.post(f"{API}/events", ok)
    assert r.status_code == 202 and r.json() == {"accepted": True}
    r = gw.post(f"{API}/events", dict(ok, type="click", surface="similar", mode="hybrid"),
                token=reader["token"])
    assert r.status_code == 202
    assert gw.post(f"{API}/events", {"type": "click", "surface": "search",
                                     "book": books[1]}).status_code == 202
    assert counts(db)["events"] == before["events"] + 3
    rows = sql(db, "SELECT account_id, event_type, surface, mode FROM events WHERE "
                   "item_idx = ? AND account_id = ?", books[0], reader["account"]["id"])
    assert ("click", "similar", "hybrid") in [r[1:] for r in rows]
    before = counts(db)
    for body, status in ((dict(ok, type="view"), 400), (dict(ok, surface="home"), 400),
                         (dict(ok, type="CLICK"), 400), (dict(ok, mode="a';--"), 400),
                         (dict(ok, mode="x" * 33), 400), (dict(ok, version="v 1"), 400),
                         (dict(ok, book=-1), 400), (dict(ok, book="1"), 400),
                         ({k: v for k, v in ok.items() if k != "book"}, 400),
                         ({k: v for k, v in ok.items() if k != "type"}, 400),
                         (dict(ok, user=1), 400), (dict(ok, ts=5), 400),
                         (dict(ok, book=world["n_items"] + 7), 404)):
        assert_error(gw.post(f"{API}/events", body), status)
    assert counts(db) == before


# ---- health, metrics, admin, OpenAPI ----

def test_health(gw):
    r = gw.get("/health/live")
    assert r.status_code == 200 and r.json() == {"status": "live"}
    r = gw.get("/health/ready")
    assert r.status_code == 200, r.text
    h = r.json()
    assert h["ready"] is True and h["version"]
    assert sorted(s["role"] for s in h["services"]) == sorted(
        ["embedder", "similarity", "als", "metadata", "semantic"])
    assert all(s["reachable"] and s["version"] == h["version"] for s in h["services"])


def test_metrics(gw, books):
    gw.get(f"{API}/books/{books[0]}")
    gw.get(f"{API}/books/{10 ** 9}")
    gw.get(f"{API}/no/such/path")
    r = gw.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text

    def counter(route, code):
        m = re.search(r'^bookrec_http_requests_total\{route="' + re.escape(route) +
                      r'",code="' + code + r'"\} (\d+)', text, re.M)
        return int(m.group(1)) if m else 0

    assert counter("/api/v1/books/{book}", "2xx") >= 1
    assert counter("/api/v1/books/{book}", "4xx") >= 1
    assert counter("/api/v1/popular", "2xx") >= 1
    assert counter("other", "4xx") >= 1
    assert re.search(r'^bookrec_http_request_duration_seconds_bucket\{route="/api/v1/popular",'
                     r'le="\+Inf"\} \d+', text, re.M)
    assert re.search(r"^bookrec_cache_hits \d", text, re.M)
    # Unknown paths never create series.
    assert "/no/such/path" not in text


def test_admin(gw):
    for method, path in (("GET", "/admin/versions"), ("POST", "/admin/reload")):
        assert_error(gw.req(method, API + path), 401, "unauthorized")
        assert_error(gw.req(method, API + path, token="wrong-token"), 401)
        assert_error(gw.req(method, API + path, token=ADMIN + "x"), 401)
    r = gw.get(f"{API}/admin/versions", token=ADMIN)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["serving"] and len(v["services"]) == 5
    r = gw.req("POST", f"{API}/admin/reload", token=ADMIN)
    assert r.status_code == 200, r.text
    assert len(r.json()["services"]) == 5
    assert all(s.get("error") is None for s in r.json()["services"])
    # A reader's session token is no admin token.
    s = signup(gw)
    assert_error(gw.get(f"{API}/admin/versions", token=s["token"]), 401)


def load_doc():
    return json.loads((ROOT / "docs" / "api" / "openapi.json").read_text())


def doc_routes(doc):
    return {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops
            if m in ("get", "post", "put", "patch", "delete")}


def source_routes():
    src = (ROOT / "server" / "gateway.c").read_text()
    table = re.search(r"g_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S).group(1)
    return set(re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', table))


def test_openapi_document_served(gw):
    r = gw.get(f"{API}/openapi.json")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc == load_doc()
    assert doc["openapi"] == "3.0.3"
    schemes = doc["components"]["securitySchemes"]
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "type": "apiKey", "in": "cookie",
                                     "name": "bookrec_session"}
    assert schemes["csrfToken"]["name"] == "X-CSRF-Token"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert "adminToken" in schemes
    # Every $ref resolves.
    refs = set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', json.dumps(doc)))
    for kind, name in refs:
        assert name in doc["components"][kind], (kind, name)


def test_openapi_matches_route_table(gw):
    assert doc_routes(load_doc()) == source_routes()


def fill(path, world, books):
    return (path.replace("{book}", str(books[0]))
            .replace("{isbn}", world["isbn13"]))


def test_openapi_routes_exist_on_server(gw, world, books):
    """Black box: each documented (method, path) reaches a handler (never the router's
    404 or 405), and every other method on a documented path is 405."""
    doc = load_doc()
    routes = doc_routes(doc)
    for method, path in sorted(routes):
        body = {} if method in ("POST", "PATCH") else None
        r = gw.req(method, fill(path, world, books), json_body=body)
        assert r.status_code != 405, (method, path, r.text)
        if r.status_code == 404:
            assert r.json()["error"]["message"] != "no such endpoint", (method, path)
        op = doc["paths"][path][method.lower()]
        assert str(r.status_code) in op["responses"], (method, path, r.status_code, r.text)
    for path in doc["paths"]:
        for method in ("GET", "POST", "PATCH", "DELETE", "PUT"):
            if (method, path) in routes:
                continue
            r = gw.req(method, fill(path, world, books))
            assert_error(r, 405, "method_not_allowed")
    # Paths not in the document are 404.
    for path in (f"{API}", f"{API}/", f"{API}/book/1", f"{API}/books", f"{API}/me/",
                 f"{API}/books/1/similar/", "/api/v2/popular", f"{API}/admin"):
        assert_error(gw.get(path), 404, "not_found")


def test_openapi_documents_request_fields(gw):
    """Each body schema lists exactly what the handlers accept: an extra field is a 400."""
    doc = load_doc()
    s = doc["components"]["schemas"]
    for name in ("SignupRequest", "LoginRequest", "PatchMeRequest", "RatingRequest",
                 "EventRequest"):
        assert s[name]["additionalProperties"] is False
    assert set(s["SignupRequest"]["properties"]) == {"username", "email", "password",
                                                     "favorite_subjects"}
    assert set(s["LoginRequest"]["properties"]) == {"login", "password"}
    assert set(s["PatchMeRequest"]["properties"]) == {"email", "password", "favorite_subjects"}
    assert set(s["RatingRequest"]["properties"]) == {"book", "rating"}
    assert set(s["EventRequest"]["properties"]) == {"type", "surface", "mode", "book",
                                                    "version"}
    # Compare with the br_jreq_only lists of the handlers.
    src = "".join((ROOT / "server" / f).read_text() for f in ("gw_account.c",))
    lists = re.findall(r"allowed\[\]\s*=\s*\{([^}]*)\}", src)
    found = [set(re.findall(r'"(\w+)"', l)) for l in lists]
    for name in ("SignupRequest", "LoginRequest", "PatchMeRequest", "RatingRequest",
                 "EventRequest"):
        assert set(s[name]["properties"]) in found, name


# ---- bad inputs on every write endpoint ----

WRITES = [("POST", "/auth/signup", None), ("POST", "/auth/login", None),
          ("PATCH", "/me", "auth"), ("POST", "/ratings", "auth"), ("POST", "/events", None)]


@pytest.mark.parametrize("method,path,auth", WRITES)
def test_writes_reject_bad_bodies(gw, world, method, path, auth):
    t = signup(gw)["token"] if auth else None
    db = world["db"]
    before = counts(db)
    json_h = {"Content-Type": "application/json"}
    bad_bodies = [b'{', b'{"a":', b'null', b'[]', b'"text"', b'42', b'', b'{"book": 1,}',
                  b'{"book": 1, "book": 2}', b'{"x": ' + b'[' * 40 + b']' * 40 + b'}',
                  b'{"email": "\xff\xfe"}', b'{"book": 1e999}', b'{"email": "a\\u0000b"}',
                  b'{"email": "a\x00b"}', b"{'book': 1}"]
    for data in bad_bodies:
        r = gw.req(method, API + path, token=t, data=data, headers=json_h)
        assert_error(r, 400)
    # Wrong or missing content type.
    for ct in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
               "application/xml", None):
        h = {"Content-Type": ct} if ct else {}
        r = gw.req(method, API + path, token=t, data=b'{"book": 1}', headers=h)
        assert_error(r, 415, "unsupported_media_type")
    # Bodies over serve.max_body.
    big = '{"username": "' + "x" * (MAX_BODY + 10) + '"}'
    try:
        r = gw.req(method, API + path, token=t, data=big, headers=json_h)
        assert_error(r, 413, "body_too_large")
    except requests.ConnectionError:
        pass  # the server may close the connection after answering
    assert counts(db) == before


def test_huge_body_far_over_limit(gw, world):
    before = counts(world["db"])
    try:
        r = gw.req("POST", f"{API}/events", data=b"{" + b" " * (8 << 20) + b"}",
                   headers={"Content-Type": "application/json"})
        assert_error(r, 413)
    except requests.ConnectionError:
        pass
    assert counts(world["db"]) == before
    assert gw.get("/health/live").status_code == 200


def test_oversized_headers(gw):
    r = gw.get(f"{API}/popular", headers={"X-Big": "a" * 17000})
    assert_error(r, 431, "headers_too_large")
    r = gw.get(f"{API}/popular", headers={f"X-H{i}": "b" * 200 for i in range(100)})
    assert r.status_code == 431
    # Far over libmicrohttpd's per-connection memory: it answers 431 itself (plain text).
    try:
        r = gw.get(f"{API}/popular", headers={"X-Big": "a" * 200000})
        assert r.status_code == 431
    except requests.ConnectionError:
        pass
    # A big Cookie header: libmicrohttpd keeps a parsed copy, so it may answer first.
    r = gw.get(f"{API}/me", headers={"Cookie": "bookrec_session=" + "c" * 17000})
    assert r.status_code == 431
    if r.headers.get("Content-Type", "").startswith("application/json"):
        assert_error(r, 431)
    assert gw.get("/health/live").status_code == 200


@pytest.mark.parametrize("path", [
    "/api/v1/books/..%2F..%2Fetc", "/api/v1/books/..%2F..%2F..%2Fetc%2Fpasswd",
    "/api/v1/../../etc/passwd", "/api/v1/books/../../../etc/passwd", "/../../etc/passwd",
    "/%2e%2e/%2e%2e/etc/passwd", "/api/v1/books/%2e%2e/similar", "/api/v1/books/1/../../me",
    "/api/v1/books/by-isbn/..%2F..%2Fetc%2Fpasswd", "/api/v1/openapi.json/../../../etc/passwd",
    "/api/v1/books/1%00.json", "/api/v1/books/1%00", "/health/live%00.html",
    "//etc/passwd", "/api/v1//books/1", "/web/../../etc/passwd",
    "/api/v1/books/%252e%252e%252fetc"])
def test_path_traversal(gw, path):
    status, headers, body = gw.raw("GET", path)
    assert 400 <= status < 500, (path, status, body[:200])
    assert b"root:" not in body
    err = json.loads(body)["error"]
    assert err["code"] and err["message"]


@pytest.mark.parametrize("path", [
    "/api/v1/subjects?q=%C1%8A", "/api/v1/search?q=ab%FF", "/api/v1/search?q=the&subjects=%C0",
    "/api/v1/recommendations?subjects=%ED%A0%80", "/api/v1/books/1/similar?mode=%FF",
    "/api/v1/me/ratings?cursor=%FE"])
def test_query_not_utf8(gw, path):
    status, headers, body = gw.raw("GET", path)
    assert status in (400, 401), (path, status, body)
    assert json.loads(body)["error"]["message"]


def test_unknown_methods_and_paths(gw):
    status, _, body = gw.raw("BREW", f"{API}/popular")
    assert 400 <= status < 500 and b"error" in body
    assert_error(gw.req("PUT", f"{API}/ratings", json_body={}), 405)
    assert_error(gw.req("DELETE", f"{API}/popular"), 405)
    assert_error(gw.get("/api/v1/nothing"), 404, "not_found")


def test_sql_metacharacters_stored_harmlessly(gw, world):
    """Values that pass validation but carry quotes are stored and shown as given."""
    name = uname()
    email = f"o'brien+{name}--%*@example.org"
    r = gw.post(f"{API}/auth/signup", {"username": name, "email": email,
                                       "password": "x'); DROP TABLE accounts;--"})
    assert r.status_code == 201, r.text
    t = r.json()["token"]
    assert gw.get(f"{API}/me", token=t).json()["account"]["email"] == email
    assert sql(world["db"], "SELECT email FROM accounts WHERE username = ?", name) == [(email,)]
    assert gw.post(f"{API}/auth/login", {"login": email,
                                         "password": "x'); DROP TABLE accounts;--"}
                   ).status_code == 200
    assert_error(gw.post(f"{API}/auth/login", {"login": "' OR '1'='1",
                                               "password": "' OR '1'='1"}), 401)
    assert_error(gw.post(f"{API}/auth/login", {"login": f"{name}' --",
                                               "password": "anything"}), 401)
    for t_ in TABLES:
        assert sql(world["db"], f"SELECT COUNT(*) FROM {t_}")[0][0] >= 0


# ---- rate limits ----

def test_rate_limit_per_address(world):
    s = Server(world["db"], world["art"], ["serve.rate_ip=5"], world["tmp"] / "serve-rl.log")
    try:
        got = []
        for _ in range(40):
            r = s.get(f"{API}/subjects")
            got.append(r.status_code)
            if r.status_code == 429:
                assert_error(r, 429, "rate_limited")
                ra = int(r.headers["Retry-After"])
                assert 1 <= ra <= 60, ra
                break
        assert got[0] == 200 and got[-1] == 429, got
        # The admin API is disabled on this server (no serve.admin_token).
        time.sleep(1.0)
        assert_error(s.get(f"{API}/admin/versions", token="anything"), 403, "forbidden")
        # Tokens come back with time.
        time.sleep(1.5)
        assert s.get("/health/live").status_code == 200
    finally:
        s.stop()
