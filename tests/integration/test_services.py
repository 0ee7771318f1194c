"""Black-box tests of the model services (`bookrec serve`, docs/services.md): every endpoint of
every role over HTTP and its errors, tokens, reloading (inotify, SIGHUP, POST /admin/reload),
refusal of bad versions while the old one keeps serving, the version protocol
(X-Model-Version, the grace period, 409), role isolation, and the crash safety of
`bookrec publish` and `bookrec versions activate` under kill -9 (docs/artifacts.md).

A module fixture makes a demo catalog and trains three small models with different seeds
(so that their versions answer differently) and publishes the first one; each test copies
that artifacts directory and starts its own servers on free ports (--listen 127.0.0.1:0,
the URL read from stdout). Every server is stopped at teardown, killed if it hangs."""
import ast
import json
import os
import random
import re
import select
import shutil
import signal
import subprocess
import time

import pytest
import requests

from conftest import BIN, ROOT, run
from xxh64 import xxh64

# Small models: a version is about 5 MB and publishes in about a second.
FAST = ["--set", "als.iterations=4", "--set", "als.factors=16", "--set", "subject.epochs=2",
        "--set", "subject.dim=16"]
SEEDS = (1, 2, 3)
ROLES = ("embedder", "similarity", "als", "metadata", "semantic")
ENDPOINTS = {"embedder": ("/embed",), "similarity": ("/similar", "/subject_recs"),
             "als": ("/als_recs", "/is_warm", "/fold_in"), "metadata": ("/books", "/popular"),
             "semantic": ("/search",)}
ALL_ENDPOINTS = [e for r in ROLES for e in ENDPOINTS[r]]
HEALTH_KEYS = {"role", "version", "previous", "loaded_at_ms", "mapped_bytes", "reloads",
               "reload_failures", "requests", "refused_version"}
ID_RE = re.compile(r"^\d{8}-\d{6}-\d{3}-[0-9a-f]{8}$")


# ---- helpers: processes, artifacts, npy ----

def env():
    e = dict(os.environ)
    for k in list(e):
        if k == "BOOKREC_CONFIG" or k.startswith("BOOKREC_SERVE_"):
            e.pop(k)
    return e


class Server:
    """`bookrec [--set K=V]... serve [--role R] --artifacts ART --listen 127.0.0.1:0`.
    Without a role the process also runs the gateway, which takes every GET but /health,
    and /metrics; its database is `db`."""

    def __init__(self, art, role=None, sets=(), log=None, db=None):
        args = [BIN]
        for s in sets:
            args += ["--set", s]
        args += ["serve", "--artifacts", str(art), "--listen", "127.0.0.1:0"]
        if role:
            args += ["--role", role]
        if db:
            args += ["--db", str(db)]
        self.log = log
        err = open(log, "w") if log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=env(),
                                         cwd=ROOT, stderr=err)
        finally:
            if log:
                err.close()
        try:
            line = ""
            if select.select([self.proc.stdout], [], [], 20)[0]:
                line = self.proc.stdout.readline()
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            assert m, f"serve printed no URL: {line!r}\n{self.logtext()}"
            self.url = m.group(1)
        except BaseException:
            self.stop()
            raise

    def logtext(self):
        try:
            return open(self.log).read()[-4000:] if self.log else ""
        except OSError:
            return ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()

    def request(self, method, path, **kw):
        try:
            return requests.request(method, self.url + path, timeout=20, **kw)
        except requests.ConnectionError:
            if self.proc.poll() is not None:  # say why, rather than "connection refused"
                raise AssertionError(f"the server exited ({self.proc.returncode}):\n"
                                     f"{self.logtext()}") from None
            raise

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, data=None, version=None, token=None, headers=None):
        h = {"Content-Type": "application/json"}
        if version:
            h["X-Model-Version"] = version
        if token:
            h["Authorization"] = "Bearer " + token
        h.update(headers or {})
        if data is None:
            data = json.dumps(body if body is not None else {})
        return self.request("POST", path, data=data, headers=h)

    def health(self):
        r = self.get("/health")
        assert r.status_code == 200, r.text
        return r.json()

    def services(self):
        """/health as a list of per-service objects (all-in-one or one role)."""
        h = self.health()
        return h["services"] if h["role"] == "all" else [h]


class Servers:
    def __init__(self, logdir):
        self.logdir, self.started = logdir, []

    def __call__(self, art, role=None, sets=()):
        n = len(self.started)
        s = Server(art, role, sets, self.logdir / f"serve-{n}.log",
                   db=None if role else self.logdir / f"gateway-{n}.db")
        self.started.append(s)
        return s

    def stop_all(self):
        for s in self.started:
            s.stop()


@pytest.fixture
def serve(tmp_path):
    s = Servers(tmp_path)
    yield s
    s.stop_all()


@pytest.fixture(scope="module")
def mod_serve(tmp_path_factory):
    s = Servers(tmp_path_factory.mktemp("serve-logs"))
    yield s
    s.stop_all()


def wait_for(cond, timeout=15.0, what="condition"):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def publish_args(world, art, model, *extra):
    return [BIN, "publish", "--db", str(world["db"]), "--model", str(world["models"][model]),
            "--artifacts", str(art), *extra]


def publish(world, art, model, *extra):
    """Publishes trained model number `model` (made current) and returns the version id."""
    p = run(*publish_args(world, art, model, *extra)[1:])
    m = re.match(r"version (\S+) written", p.stdout)
    assert m and ID_RE.match(m.group(1)), p.stdout
    return m.group(1)


def versions(art, *args, check=True):
    return run("versions", "--artifacts", art, *args, check=check)


def current(art):
    return (art / "CURRENT").read_text()


def set_current(art, vid):
    """Points CURRENT at vid behind the registry's back (a buggy publisher), atomically."""
    tmp = art / ".CURRENT.test"
    tmp.write_text(vid + "\n")
    os.rename(tmp, art / "CURRENT")


def new_id():
    t = time.time()
    return (time.strftime("%Y%m%d-%H%M%S", time.gmtime(t)) + f"-{int(t * 1000) % 1000:03d}-"
            + f"{random.getrandbits(32):08x}")


def vdir(art, vid):
    return art / "versions" / vid


def manifest(art, vid):
    return json.loads((vdir(art, vid) / "manifest.json").read_text())


def clone_version(art, src):
    """A copy of version src under a new valid id (its manifest's id rewritten)."""
    vid = new_id()
    shutil.copytree(vdir(art, src), vdir(art, vid))
    man = manifest(art, src)
    man["id"] = vid
    (vdir(art, vid) / "manifest.json").write_text(json.dumps(man, indent=2))
    return vid


def npy_bytes(descr, shape, payload):
    """A .npy (format 1.0) as numpy and lib/artifact/npy.c write it: data 64-byte aligned."""
    dims = f"({shape[0]},)" if len(shape) == 1 else f"({shape[0]}, {shape[1]})"
    h = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}"
    total = 10 + len(h) + 1
    pad = (total + 63) // 64 * 64 - total
    h = (h + " " * pad + "\n").encode()
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + payload


def npy_read(path):
    """(descr, shape, data bytes) of a .npy file."""
    b = path.read_bytes()
    assert b[:8] == b"\x93NUMPY\x01\x00", path
    hl = int.from_bytes(b[8:10], "little")
    d = ast.literal_eval(b[10:10 + hl].decode())
    return d["descr"], d["shape"], b[10 + hl:]


def is_error(r, status=None, code=None):
    """A JSON error reply {"error": {"code", "message"}} (with that status and code)."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    b = r.json()
    assert set(b) == {"error"} and set(b["error"]) == {"code", "message"}, b
    assert isinstance(b["error"]["code"], str) and b["error"]["code"], b
    assert isinstance(b["error"]["message"], str) and b["error"]["message"], b
    if status is not None:
        assert r.status_code == status, (r.status_code, b)
    if code is not None:
        assert b["error"]["code"] == code, b
    return b["error"]


def has_versions(r, answered, held=None):
    assert r.headers.get("X-Model-Version") == answered, r.headers
    got = r.headers.get("X-Model-Versions", "").split(",")
    assert answered in got, r.headers
    if held is not None:
        assert got == held, r.headers


# ---- fixtures ----

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Demo catalog, three models trained with different seeds, and `base`: an artifacts
    directory with the first model published (CURRENT = v1). Tests copy `base`."""
    tmp = tmp_path_factory.mktemp("services")
    db = tmp / "catalog.db"
    run("demo-data", tmp / "demo")
    run("import", "--db", db, "--report-json", tmp / "import.json", tmp / "demo")
    run("split", "--db", db)
    models = []
    for seed in SEEDS:
        out = tmp / f"model-{seed}"
        run(*FAST, "train", "--db", db, "--out", out, "--seed", seed, "--pool", "perdim")
        models.append(out)
    w = {"tmp": tmp, "db": db, "models": models, "base": tmp / "base"}
    w["v1"] = publish(w, w["base"], 0)
    vd = vdir(w["base"], w["v1"])
    dims = manifest(w["base"], w["v1"])["dims"]
    w.update(n_items=dims["n_items"], factors=dims["factors"], dim=dims["subject_dim"])
    w["subjects"] = [s for s in (vd / "embedder" / "subjects.txt").read_text().split("\n") if s]
    descr, shape, data = npy_read(vd / "als" / "als_users.npy")
    assert descr == "<i4" and shape[0] > 10
    warm = [int.from_bytes(data[4 * i:4 * i + 4], "little", signed=True) for i in range(shape[0])]
    w["warm"] = warm[len(warm) // 2]
    w["cold"] = next(u for u in range(10 ** 6) if u not in set(warm))
    return w


def copy_base(world, tmp_path):
    art = tmp_path / "art"
    shutil.copytree(world["base"], art)
    return art


@pytest.fixture(scope="module")
def main_server(world, mod_serve, tmp_path_factory):
    """An all-in-one server on a copy of base, with a small body limit."""
    art = tmp_path_factory.mktemp("main") / "art"
    shutil.copytree(world["base"], art)
    return mod_serve(art, sets=["serve.max_body=4096"])


@pytest.fixture(scope="module")
def probe(world, main_server):
    """Valid requests for every endpoint: a book that has ALS and subject vectors (the first
    popular one for which all three /similar modes answer), subject names, readers."""
    pop = main_server.post("/popular", {"k": 50}).json()["items"]
    item = next((x["id"] for x in pop
                 if all(main_server.post("/similar", {"item": x["id"], "mode": m}).status_code
                        == 200 for m in ("als", "subject", "hybrid"))), None)
    assert item is not None, "no popular book has every kind of vector"
    other = next(x["id"] for x in pop if x["id"] != item)
    book = main_server.post("/books", {"ids": [item]}).json()["books"][0]
    word = max(re.findall(r"[A-Za-z]{4,}", book["title"]), key=len)
    vec = main_server.post("/embed", {"subjects": world["subjects"][:3]}).json()["vector"]
    return {
        "/embed": {"subjects": [world["subjects"][0], world["subjects"][1], "no such subject"]},
        "/similar": {"item": item, "mode": "als", "k": 5},
        "/subject_recs": {"vector": vec, "k": 5},
        "/als_recs": {"user": world["warm"], "k": 5},
        "/is_warm": {"user": world["warm"]},
        "/fold_in": {"interactions": [{"item": item, "rating": 8}, {"item": other}], "k": 5},
        "/books": {"ids": [item, 0, world["n_items"] + 5]},
        "/popular": {"k": 5, "offset": 2},
        "/search": {"query": word.lower(), "k": 5},
    }


# ---- shapes ----

def check_items(items, n_items, k=None, exclude=()):
    assert isinstance(items, list)
    if k is not None:
        assert 0 < len(items) <= k, items
    ids = [x["id"] for x in items]
    assert len(set(ids)) == len(ids), ids
    for x in items:
        assert set(x) == {"id", "score"}, x
        assert isinstance(x["id"], int) and 0 <= x["id"] < n_items, x
        assert isinstance(x["score"], (int, float)), x
        assert x["id"] not in exclude, (x, exclude)
    scores = [x["score"] for x in items]
    return ids, scores


def check_shape(world, endpoint, req, body):
    n = world["n_items"]
    if endpoint == "/embed":
        assert set(body) == {"vector", "subjects", "unknown"}, body
        assert len(body["vector"]) == world["dim"]
        assert all(isinstance(v, float) for v in body["vector"])
        assert len(body["subjects"]) == 2 and all(isinstance(s, int) for s in body["subjects"])
        assert body["unknown"] == ["no such subject"]
    elif endpoint == "/similar":
        assert set(body) == {"item", "mode", "w", "items"}, body
        assert (body["item"], body["mode"], body["w"]) == (req["item"], req["mode"], 0.5)
        check_items(body["items"], n, req["k"], exclude=(req["item"],))
    elif endpoint == "/subject_recs":
        assert set(body) == {"a", "items"}, body
        assert body["a"] == pytest.approx(0.8)  # the version's cold_a
        check_items(body["items"], n, req["k"])
    elif endpoint == "/als_recs":
        assert set(body) == {"user", "items"} and body["user"] == req["user"], body
        _, s = check_items(body["items"], n, req["k"])
        assert s == sorted(s, reverse=True)
    elif endpoint == "/is_warm":
        assert body == {"user": req["user"], "warm": True}
    elif endpoint == "/fold_in":
        assert set(body) == {"vector", "items"}, body
        assert len(body["vector"]) == world["factors"]
        check_items(body["items"], n, req["k"], exclude=[x["item"] for x in req["interactions"]])
    elif endpoint == "/books":
        assert set(body) == {"books"} and len(body["books"]) == len(req["ids"]), body
        assert body["books"][0]["id"] == req["ids"][0] and body["books"][0]["title"]
        for want, b in zip(req["ids"], body["books"]):
            assert b is None or (isinstance(b, dict) and b["id"] == want), b
        assert body["books"][2] is None  # beyond the catalog
    elif endpoint == "/popular":
        assert set(body) == {"items", "total", "offset"}, body
        assert body["offset"] == req["offset"] and body["total"] >= 7
        check_items(body["items"], n, req["k"])
    elif endpoint == "/search":
        assert set(body) == {"query", "items"} and body["query"] == req["query"], body
        check_items(body["items"], n, req["k"])
    else:
        raise AssertionError(endpoint)


# ---- 1. endpoints, shapes, headers, errors ----

def test_every_endpoint_answers_with_its_shape(world, main_server, probe):
    v1 = world["v1"]
    for ep in ALL_ENDPOINTS:
        r = main_server.post(ep, probe[ep])
        assert r.status_code == 200, (ep, r.text)
        assert r.headers["Content-Type"].startswith("application/json")
        has_versions(r, v1, [v1])
        check_shape(world, ep, probe[ep], r.json())
    for mode in ("subject", "hybrid"):
        req = dict(probe["/similar"], mode=mode)
        check_shape(world, "/similar", req, main_server.post("/similar", req).json())
    # /popular pages through one list; /is_warm knows a cold reader.
    top = main_server.post("/popular", {"k": 7}).json()["items"]
    assert main_server.post("/popular", probe["/popular"]).json()["items"] == top[2:7]
    assert main_server.post("/is_warm", {"user": world["cold"]}).json()["warm"] is False


def test_health_and_metrics(world, main_server, probe):
    main_server.post("/popular", probe["/popular"])
    h = main_server.health()
    assert h["role"] == "all" and [s["role"] for s in h["services"]] == list(ROLES)
    for s in h["services"]:
        assert set(s) == HEALTH_KEYS, s
        assert s["version"] == world["v1"] and s["previous"] is None
        assert s["reloads"] == 1 and s["reload_failures"] == 0
        assert s["mapped_bytes"] > 0 and s["loaded_at_ms"] > 1.6e12
    assert h["services"][3]["requests"] >= 1  # metadata answered /popular
    is_error(main_server.post("/health"), 405, "method_not_allowed")
    # All in one, /metrics is the gateway's (the services' counters: one-role servers).
    r = main_server.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert "bookrec_http_requests_total" in r.text


@pytest.mark.parametrize("role", ROLES)
def test_single_role_serves_its_endpoints_only(world, serve, probe, main_server, tmp_path,
                                               role):
    """`serve --role R` answers R's endpoints exactly as the all-in-one server does (same
    version, same code), and 404 on the others; /health names R; /metrics counts."""
    s = serve(copy_base(world, tmp_path), role=role)
    v1 = world["v1"]
    for ep in ALL_ENDPOINTS:
        r = s.post(ep, probe[ep])
        if ep in ENDPOINTS[role]:
            assert r.status_code == 200, (ep, r.text)
            has_versions(r, v1, [v1])
            assert r.json() == main_server.post(ep, probe[ep]).json(), ep
            r = s.get(ep)
            is_error(r, 405, "method_not_allowed")
            has_versions(r, v1)
        else:
            is_error(r, 404, "not_found")
            has_versions(r, v1)
    for path in ("/nope", "/", "/admin"):
        is_error(s.get(path), 404, "not_found")
    h = s.get("/health")
    assert set(h.json()) == HEALTH_KEYS and h.json()["role"] == role
    has_versions(h, v1, [v1])
    m = s.get("/metrics")
    assert m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain")
    has_versions(m, v1)
    assert f'bookrec_reloads{{role="{role}"}} 1' in m.text
    assert f'bookrec_reload_failures{{role="{role}"}} 0' in m.text
    assert f'bookrec_version_refused_requests{{role="{role}"}} 0' in m.text
    ep = ENDPOINTS[role][0]
    assert re.search(rf'bookrec_http_requests_total\{{route="{ep}",code="2xx"\}} 1\b', m.text)
    assert re.search(rf'bookrec_http_requests_total\{{route="{ep}",code="4xx"\}} 1\b', m.text)
    is_error(s.post("/metrics"), 405, "method_not_allowed")


def test_protocol_errors(world, main_server):
    v1 = world["v1"]
    for path in ("/nope", "/admin", "/similar/x", "/"):
        is_error(main_server.post(path, {}), 404, "not_found")
    for ep in ALL_ENDPOINTS:  # (GET: in test_single_role_serves_its_endpoints_only)
        r = main_server.post(ep, data="{}", headers={"Content-Type": "text/plain"})
        is_error(r, 415, "unsupported_media_type")
        has_versions(r, v1)
        for bad in ('{"k":', "[1, 2]", "", "null", '{"a":1,"a":2}', "\xff"):
            is_error(main_server.post(ep, data=bad.encode("latin-1")), 400, "bad_request")
        r = main_server.post(ep, {"no_such_field": 1})
        is_error(r, 400, "bad_request")
        has_versions(r, v1)
        # Over serve.max_body (4096 here): refused before it is read, still a JSON error.
        is_error(main_server.post(ep, data=b'{"query": "' + b"a" * 5000 + b'"}'), 413,
                 "body_too_large")


@pytest.mark.parametrize("ep", ["/similar", "/subject_recs", "/als_recs", "/fold_in",
                                "/popular", "/search"])
@pytest.mark.parametrize("k", [-1, 0, 1001, 10 ** 12, 10 ** 30, 2.5, "5", True])
def test_bad_k(probe, main_server, ep, k):
    if ep == "/fold_in" and k == 0:
        pytest.skip("k 0: fold-in without ranking, a valid request")
    msg = is_error(main_server.post(ep, dict(probe[ep], k=k)), 400, "bad_request")["message"]
    if k != 10 ** 30:  # 10**30 is not even parsed (too big an integer for JSON here)
        assert '"k"' in msg, msg


def test_values_out_of_range(world, probe, main_server):
    n, big = world["n_items"], 2 ** 31
    cases = [
        ("/similar", {"item": n}), ("/similar", {"item": -1}), ("/similar", {"item": big}),
        ("/similar", dict(probe["/similar"], mode="nope")),
        ("/similar", dict(probe["/similar"], w=1.5)),
        ("/similar", dict(probe["/similar"], exclude=[-3])),
        ("/subject_recs", {"vector": [0.0] * world["dim"]}),
        ("/subject_recs", {"vector": [1.0] * (world["dim"] + 1)}),
        ("/subject_recs", dict(probe["/subject_recs"], a=-0.1)),
        ("/als_recs", {"user": -1}), ("/als_recs", {"user": big}),
        ("/is_warm", {}), ("/is_warm", {"user": "7"}),
        ("/fold_in", {"interactions": [{"item": n}]}),
        ("/fold_in", {"interactions": [{"item": 1, "rating": 11}]}),
        ("/fold_in", {"interactions": [{"item": 1}, {"item": 1}]}),
        ("/fold_in", {"interactions": [5]}),
        ("/books", {"ids": [-5]}), ("/books", {"ids": [big]}), ("/books", {}),
        ("/books", {"ids": list(range(501))}),
        ("/popular", {"offset": -1}), ("/popular", {"offset": 10 ** 7}),
        ("/search", {"query": "q" * 513}), ("/search", {"query": "ab " * 17}),
        ("/search", {}),
        ("/embed", {"subjects": []}), ("/embed", {"subjects": [{"a": 1}]}),
        ("/embed", {"subjects": ["s"] * 65}),
    ]
    for ep, req in cases:
        is_error(main_server.post(ep, req), 400, "bad_request")
    # Well-formed but unanswerable: 4xx with their own codes.
    is_error(main_server.post("/embed", {"subjects": ["no such subject", 10 ** 6]}), 422,
             "no_known_subjects")
    is_error(main_server.post("/als_recs", {"user": world["cold"]}), 404, "not_warm")
    # The server is unharmed.
    assert main_server.post("/popular", {}).status_code == 200


# ---- 2. reload and the version protocol ----

def test_reload_switches_and_keeps_previous_for_grace(world, serve, tmp_path):
    art = copy_base(world, tmp_path)
    grace_ms = 3000
    s = serve(art, sets=[f"serve.grace_ms={grace_ms}"])
    v1 = world["v1"]
    rq = {"/als_recs": {"user": world["warm"], "k": 10},
          "/popular": {"k": 3}}
    before = {ep: s.post(ep, b).json() for ep, b in rq.items()}

    v2 = publish(world, art, 1)  # only inotify tells the server
    assert v2 > v1
    svcs = wait_for(lambda: (lambda x: x if all(t["version"] == v2 for t in x) else None)(
        s.services()), 15, "every service to load v2")
    deadline_ms = min(t["loaded_at_ms"] for t in svcs) + grace_ms
    for t in svcs:
        assert t["previous"] == v1 and t["reloads"] == 2 and t["reload_failures"] == 0
    # Within the grace period: named versions are answered by exactly that version.
    old = s.post("/als_recs", rq["/als_recs"], version=v1)
    new = s.post("/als_recs", rq["/als_recs"])
    named = s.post("/als_recs", rq["/als_recs"], version=v2)
    assert time.time() * 1000 < deadline_ms - 100, "too slow to test the grace period"
    assert old.status_code == new.status_code == named.status_code == 200
    has_versions(old, v1, [v2, v1])
    has_versions(new, v2, [v2, v1])
    has_versions(named, v2, [v2, v1])
    assert old.json() == before["/als_recs"]
    assert new.json() == named.json() != old.json()  # another seed, other factors
    # A version never held is refused at once, and counted.
    r = s.post("/popular", rq["/popular"], version=new_id())
    is_error(r, 409, "version_unavailable")
    has_versions(r, v2, [v2, v1])

    wait_for(lambda: time.time() * 1000 > deadline_ms + 700, 10, "the grace period to end")
    for ep, body in rq.items():
        r = s.post(ep, body, version=v1)
        is_error(r, 409, "version_unavailable")
        has_versions(r, v2, [v2])
        assert s.post(ep, body).headers["X-Model-Version"] == v2
    svcs = s.services()
    assert all(t["previous"] is None for t in svcs)
    by_role = {t["role"]: t for t in svcs}
    assert by_role["als"]["refused_version"] == 1 and by_role["metadata"]["refused_version"] == 2


def test_reload_by_sighup_and_admin(world, serve, tmp_path):
    """SIGHUP and /admin/reload with nothing new are no-ops that report what is loaded; a
    version published with --no-activate is not loaded until it is activated."""
    art = copy_base(world, tmp_path)
    s = serve(art, role="metadata", sets=["serve.admin_token=adm"])
    v1 = world["v1"]
    s.proc.send_signal(signal.SIGHUP)
    r = s.post("/admin/reload", token="adm")
    assert r.status_code == 200, r.text
    assert r.json() == {"services": [{"role": "metadata", "changed": False, "loaded": v1,
                                      "error": None}]}
    has_versions(r, v1)
    h = s.health()
    assert h["reloads"] == 1 and h["reload_failures"] == 0 and h["version"] == v1
    # A version published without activation is not loaded; activating it is.
    v2 = publish(world, art, 2, "--no-activate")
    assert s.post("/admin/reload", token="adm").json()["services"][0]["changed"] is False
    versions(art, "activate", v2)
    wait_for(lambda: s.health()["version"] == v2, 15, "the metadata service to load v2")
    r = s.post("/admin/reload", token="adm")
    assert r.status_code == 200 and r.json()["services"][0]["loaded"] == f"{v2},{v1}"


# ---- 3. refused versions ----

def corrupt_truncate(art, vid):
    f = vdir(art, vid) / "als" / "item_factors.npy"
    f.write_bytes(f.read_bytes()[:-100])
    return ("size",)


def corrupt_flip(art, vid):
    f = vdir(art, vid) / "als" / "item_factors.npy"
    b = bytearray(f.read_bytes())
    b[-17] ^= 0x10  # inside the data: the header still parses
    f.write_bytes(bytes(b))
    return ("xxh64",)


def corrupt_dims(art, vid):
    """A well-formed npy of other dimensions, with a manifest that agrees with the file:
    checksums pass and only the service's check against dims can refuse it."""
    man = manifest(art, vid)
    rows, cols = man["dims"]["n_items"], man["dims"]["factors"] + 1
    body = npy_bytes("<f4", (rows, cols), bytes(4 * rows * cols))
    rel = "als/item_factors.npy"
    (vdir(art, vid) / rel).write_bytes(body)
    entry = next(e for e in man["files"] if e["path"] == rel)
    entry["size"], entry["xxh64"] = len(body), f"{xxh64(body):016x}"
    (vdir(art, vid) / "manifest.json").write_text(json.dumps(man, indent=2))
    out = versions(art, "show", vid, "--verify").stdout
    assert "verify: OK" in out
    return ("item_factors", "shape")


@pytest.mark.parametrize("corrupt", [corrupt_truncate, corrupt_flip, corrupt_dims])
def test_bad_version_is_refused_and_old_keeps_serving(world, serve, tmp_path, corrupt):
    art = copy_base(world, tmp_path)
    v1 = world["v1"]
    s = serve(art, role="als", sets=["serve.admin_token=adm"])
    req = {"user": world["warm"], "k": 5}
    want = s.post("/als_recs", req).json()
    bad = clone_version(art, v1)
    words = corrupt(art, bad)

    def failures():
        return s.health()["reload_failures"]

    f0 = failures()
    assert f0 == 0
    set_current(art, bad)  # inotify
    wait_for(lambda: failures() > f0, 15, "the inotify reload to be refused")
    f1 = failures()
    s.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: failures() > f1, 15, "the SIGHUP reload to be refused")
    f2 = failures()
    r = s.post("/admin/reload", token="adm")
    assert r.status_code == 409, r.text
    (svc,) = r.json()["services"]
    assert svc["role"] == "als" and svc["changed"] is False and svc["loaded"] == v1
    for w in words:
        assert w in svc["error"], svc
    h = s.health()
    assert h["reload_failures"] == f2 + 1 and h["version"] == v1 and h["reloads"] == 1
    r = s.post("/als_recs", req)
    assert r.status_code == 200 and r.json() == want
    has_versions(r, v1, [v1])
    # Naming the refused version gets a 409, never an answer from another version.
    is_error(s.post("/als_recs", req, version=bad), 409, "version_unavailable")
    assert f"bookrec_reload_failures{{role=\"als\"}} {f2 + 1}" in s.get("/metrics").text
    # `versions activate` refuses it too (checksums, or the loaders run in process for the
    # dimensions); CURRENT is left alone.
    set_current(art, v1)
    p = versions(art, "activate", bad, check=False)
    assert p.returncode != 0 and bad in p.stderr, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr
    assert current(art) == v1 + "\n"
    p = versions(art, "show", bad, "--verify", check=False)
    assert (p.returncode != 0) == (corrupt is not corrupt_dims), p.stderr


# ---- 4. tokens ----

def test_admin_token(world, serve, tmp_path):
    art = copy_base(world, tmp_path)
    s = serve(art, role="semantic", sets=["serve.admin_token=s3cret"])
    is_error(s.post("/admin/reload"), 401, "unauthorized")
    is_error(s.post("/admin/reload", token="wrong"), 401, "unauthorized")
    is_error(s.post("/admin/reload", token="s3cret" + "x"), 401, "unauthorized")
    is_error(s.post("/admin/reload", token="s3cre"), 401, "unauthorized")
    is_error(s.post("/admin/reload", headers={"Authorization": "s3cret"}), 401)
    is_error(s.get("/admin/reload", headers={"Authorization": "Bearer s3cret"}), 405)
    assert s.post("/admin/reload", token="s3cret").status_code == 200
    # Without serve.admin_token, admin calls are disabled whatever is presented.
    off = serve(art, role="semantic")
    is_error(off.post("/admin/reload"), 403, "forbidden")
    is_error(off.post("/admin/reload", token=""), 403, "forbidden")
    is_error(off.post("/admin/reload", token="s3cret"), 403, "forbidden")


def test_service_token(world, serve, probe, tmp_path):
    art = copy_base(world, tmp_path)
    s = serve(art, sets=["serve.service_token=svc-tok", "serve.admin_token=adm-tok"])
    for ep in ALL_ENDPOINTS:
        is_error(s.post(ep, probe[ep]), 401, "unauthorized")
        is_error(s.post(ep, probe[ep], token="wrong"), 401, "unauthorized")
        r = s.post(ep, probe[ep], token="svc-tok")
        assert r.status_code == 200, (ep, r.text)
    assert s.get("/health").status_code == 200
    # /admin/reload takes the admin token (in the same header), not the service token.
    assert s.post("/admin/reload", token="adm-tok").status_code == 200
    is_error(s.post("/admin/reload", token="svc-tok"), 401, "unauthorized")
    # A one-role server: its /metrics is behind the token too, its /health is not.
    one = serve(art, role="als", sets=["serve.service_token=svc-tok"])
    is_error(one.get("/metrics"), 401, "unauthorized")
    assert one.get("/metrics", headers={"Authorization": "Bearer svc-tok"}).status_code == 200
    is_error(one.post("/is_warm", probe["/is_warm"]), 401, "unauthorized")
    assert one.get("/health").json()["role"] == "als"


# ---- 5. kill -9 during publish and activate ----

def check_registry(art, allowed=None, verified=None):
    """CURRENT names a complete version (one of allowed); every version directory and every
    listed version is complete. verified: ids already checked (versions are immutable), to
    which the newly checked ones are added."""
    verified = set() if verified is None else verified
    cur = current(art)
    assert cur.endswith("\n") and ID_RE.match(cur.strip()), repr(cur)
    cur = cur.strip()
    if allowed is not None:
        assert cur in allowed, (cur, allowed)
    assert "verify: OK" in versions(art, "show", cur, "--verify").stdout
    listed = json.loads(versions(art, "list", "--json").stdout)
    for v in listed:
        assert "error" not in v, v
        if v["id"] not in verified:
            assert "verify: OK" in versions(art, "show", v["id"], "--verify").stdout
            verified.add(v["id"])
    dirs = [d.name for d in (art / "versions").iterdir() if not d.name.startswith(".staging-")]
    assert sorted(dirs) == [v["id"] for v in listed]
    assert [v["id"] for v in listed if v["current"]] == [cur]
    return cur, [v["id"] for v in listed]


def kill_at(args, delay):
    """Runs args, SIGKILLs it after delay seconds; True when it was still running."""
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(),
                         cwd=ROOT)
    try:
        p.wait(delay)
        return False
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True


def kill_when(args, cond, timeout=60):
    """Runs args, SIGKILLs it as soon as cond() holds; True when it was still running."""
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env(),
                         cwd=ROOT)
    end = time.monotonic() + timeout
    while p.poll() is None and not cond() and time.monotonic() < end:
        time.sleep(0.0005)
    running = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    return running


def test_kill_during_publish_and_activate(world, serve, tmp_path):
    art = copy_base(world, tmp_path)
    s = serve(art)  # watches every switch: it must never see an incomplete version
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    t0 = time.monotonic()
    v2 = publish(world, art, 1)
    duration = time.monotonic() - t0
    known, verified = {world["v1"], v2}, set()
    interrupted = 0
    for i in range(15):
        delay = rng.uniform(0, duration)
        interrupted += kill_at(publish_args(world, art, i % 3), delay)
        cur, listed = check_registry(art, verified=verified)
        assert set(listed) >= known, (seed, i, delay)
        known = set(listed)  # old or new: whatever completed stays complete
    assert interrupted >= 8, f"only {interrupted} of 15 publishes were interrupted"
    # Random delays mostly land in the long index builds; aim at the short moments too:
    # right after the staging directory appears, and right after the commit's rename (before
    # or while CURRENT is switched).
    for i, moment in enumerate((".staging-", "committed", ".staging-", "committed")):
        def seen(before=set(os.listdir(art / "versions")), moment=moment):
            new = set(os.listdir(art / "versions")) - before
            return any(n.startswith(".staging-") == (moment == ".staging-") for n in new)
        kill_when(publish_args(world, art, i % 3), seen)
        cur, listed = check_registry(art, verified=verified)
        assert set(listed) >= known, (moment, i)
        known = set(listed)

    ids = sorted(known)
    t0 = time.monotonic()
    versions(art, "activate", ids[0])
    duration = time.monotonic() - t0
    interrupted = 0
    for i in range(15):
        delay = rng.uniform(0, duration)
        interrupted += kill_at([BIN, "versions", "--artifacts", str(art), "activate",
                                ids[(i + 1) % len(ids)]], delay)
        check_registry(art, allowed=ids, verified=verified)
    assert interrupted >= 3, f"only {interrupted} of 15 activations were interrupted"
    # The registry still works: an activation that is not interrupted goes through.
    versions(art, "activate", ids[-1])
    cur, _ = check_registry(art, allowed=[ids[-1]])

    wait_for(lambda: all(t["version"] == cur for t in s.services()), 15,
             "the server to follow CURRENT")
    for t in s.services():
        assert t["reload_failures"] == 0, (seed, t)


# ---- 6. role isolation ----

def test_metadata_role_isolation(world, serve, probe, tmp_path):
    s = serve(copy_base(world, tmp_path), role="metadata")
    r = s.post("/books", probe["/books"])
    assert r.status_code == 200 and r.json()["books"][0]["id"] == probe["/books"]["ids"][0]
    is_error(s.post("/similar", probe["/similar"]), 404, "not_found")
    is_error(s.get("/similar"), 404, "not_found")
    h = s.health()
    assert h["role"] == "metadata" and h["version"] == world["v1"]


# ---- 7. approximate search against the exact answer ----

def test_approximate_answers_reach_recall_against_exact(world, main_server):
    """The HNSW paths (als_recs: inner product; similar als/subject: cosine) against exact
    scans of the same arrays with numpy, over the books that may be shown."""
    np = pytest.importorskip("numpy")
    vd = vdir(world["base"], world["v1"])
    U = np.load(vd / "als" / "user_factors.npy")
    V = np.load(vd / "als" / "item_factors.npy")
    allow = np.load(vd / "als" / "allow.npy").astype(bool)
    users = np.load(vd / "als" / "als_users.npy")
    k, hits, total = 20, 0, 0
    for u in users[:: max(1, len(users) // 60)]:
        s = V @ U[u]
        s[~allow] = -np.inf
        exact = set(np.argsort(-s, kind="stable")[:k].tolist())
        got = {it["id"] for it in main_server.post("/als_recs", {"user": int(u), "k": k})
               .json()["items"]}
        hits += len(exact & got)
        total += k
    assert hits / total >= 0.9, f"als_recs recall@{k} {hits / total:.3f}"

    unit = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-30)
    has = allow & (np.linalg.norm(V, axis=1) > 0)
    hits = total = 0
    for q in np.flatnonzero(has)[:: max(1, int(has.sum()) // 60)]:
        s = unit @ unit[q]
        s[~has] = -np.inf
        s[q] = -np.inf
        exact = set(np.argsort(-s, kind="stable")[:k].tolist())
        got = {it["id"] for it in main_server.post("/similar", {"item": int(q), "mode": "als",
                                                               "k": k}).json()["items"]}
        hits += len(exact & got)
        total += k
    assert hits / total >= 0.9, f"similar als recall@{k} {hits / total:.3f}"
