"""Black-box tests of the daily training pipeline (`bookrec pipeline`, docs/operations.md).

A module fixture makes a demo catalog, trains a small model and publishes it. Each test
copies the database and the artifacts, starts an all-in-one server on them (`bookrec serve
--db DB --artifacts ART`: the gateway and the five model services in one process) and runs
the pipeline against the same database, as the systemd timer does in production:

- readers sign up and rate books through the API while build/loadgen drives the services;
  the pipeline publishes a new version that every service loads, the new ratings show in the
  retrained model (the popular list, and another reader's ALS recommendations), and not one
  request fails;
- a run broken on purpose (BOOKREC_TEST_SCRAMBLE_FACTORS=1) is blocked by the gate: the old
  version keeps serving, no version is added, and the notification reaches a local webhook
  receiver and a fake sendmail; resuming reruns the gate only;
- a failing step exits 1, notifies, and `resume` restarts at that step.
"""
import json
import math
import os
import re
import select
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, run

LOADGEN = os.environ.get("BOOKREC_LOADGEN", str(ROOT / "build" / "loadgen"))
FAST = ["--set", "als.iterations=4", "--set", "als.factors=16", "--set", "subject.epochs=2",
        "--set", "subject.dim=16", "--set", "eval.bootstrap=50"]
ADMIN = "pipeline-admin-token-0123456789"
API = "/api/v1"
ROLES = ("embedder", "similarity", "als", "metadata", "semantic")
N_READERS = 12  # new readers, each rating the target book and the reference reader's books
ID_RE = re.compile(r"^\d{8}-\d{6}-\d{3}-[0-9a-f]{8}$")


def env(**extra):
    e = dict(os.environ)
    for k in list(e):
        if k == "BOOKREC_CONFIG" or k.startswith("BOOKREC_SERVE_") or k == "PORT" or \
                k.startswith("BOOKREC_PIPELINE_") or k == "BOOKREC_TEST_SCRAMBLE_FACTORS":
            e.pop(k)
    e.update(extra)
    return e


def sql(db, q, *params):
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute(q, params).fetchall()
    finally:
        con.close()


class Server:
    """`bookrec [--set K=V]... serve --listen 127.0.0.1:0 --db DB --artifacts ART`."""

    def __init__(self, db, art, log):
        args = [BIN, "--set", f"serve.admin_token={ADMIN}", "--set", "serve.rate_ip=100000",
                "--set", "serve.rate_user=100000", "--set", "serve.grace_ms=2000",
                "serve", "--listen", "127.0.0.1:0", "--db", str(db), "--artifacts", str(art)]
        self.log = log
        with open(log, "w") as err:
            self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                                         cwd=ROOT, env=env())
        try:
            line = ""
            if select.select([self.proc.stdout], [], [], 30)[0]:
                line = self.proc.stdout.readline()
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            assert m, f"serve printed no URL: {line!r}\n{self.logtext()}"
            self.url = m.group(1)
            wait_for(lambda: self.ready() is not None, 30, "the server to be ready")
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

    def ready(self):
        """/health/ready when ready: {"version", "services": [{"role", "version"}...]}."""
        try:
            r = requests.get(self.url + "/health/ready", timeout=10)
        except requests.RequestException:
            return None
        return r.json() if r.status_code == 200 else None

    def post(self, path, body, token=None):
        h = {"Content-Type": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        return requests.post(self.url + path, data=json.dumps(body), headers=h, timeout=30)


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def pipeline(w, *args, sets=(), extra_env=None, check=None):
    """bookrec pipeline ARGS on the test's database, artifacts and runs directory."""
    cmd = [BIN, *FAST]
    for s in sets:
        cmd += ["--set", s]
    cmd += ["pipeline", *args, "--db", str(w["db"]), "--artifacts", str(w["art"]),
            "--runs", str(w["runs"])]
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900,
                       env=env(**(extra_env or {})))
    if check is not None:
        assert p.returncode == check, f"exit {p.returncode}:\n{p.stdout}\n{p.stderr[-6000:]}"
    return p


def runs_json(w):
    p = subprocess.run([BIN, "pipeline", "status", "--runs", str(w["runs"]), "--json"],
                       capture_output=True, text=True, cwd=ROOT, env=env(), timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def popular_ids(srv):
    """The whole popular list of the serving version, through the metadata service: (book,
    score) pairs, best first; the score is log1p(train interactions) (serve.prior count)."""
    out, off = [], 0
    while True:
        r = srv.post("/popular", {"k": 1000, "offset": off})
        assert r.status_code == 200, r.text
        b = r.json()
        out += [(x["id"], x["score"]) for x in b["items"]]
        off += len(b["items"])
        if not b["items"] or off >= b["total"]:
            return out, r.headers.get("X-Model-Version")


def als_recs(srv, user, k=100):
    r = srv.post("/als_recs", {"user": user, "k": k})
    assert r.status_code == 200, r.text
    return [x["id"] for x in r.json()["items"]], r.headers.get("X-Model-Version")


def versions(art):
    return sorted(p.name for p in (art / "versions").iterdir() if ID_RE.match(p.name))


class Receiver:
    """A local webhook receiver: records every POST body."""

    def __init__(self):
        got = self.got = []

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                got.append({"body": self.rfile.read(n).decode(),
                            "type": self.headers.get("Content-Type")})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def fake_sendmail(tmp_path):
    """A sendmail stand-in that appends its stdin (and its argv) to a file."""
    out = tmp_path / "mail.txt"
    script = tmp_path / "sendmail"
    script.write_text(f"#!/bin/sh\necho \"argv: $*\" >> '{out}'\ncat >> '{out}'\n")
    script.chmod(0o755)
    return script, out


# ---- fixtures ----

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Demo catalog, a small model trained with the pipeline's settings and published."""
    tmp = tmp_path_factory.mktemp("pipeline")
    db, art = tmp / "catalog.db", tmp / "art"
    run("demo-data", tmp / "demo")
    run("import", "--db", db, "--report-json", tmp / "import.json", tmp / "demo")
    run("split", "--db", db)
    run(*FAST, "train", "--db", db, "--out", tmp / "model", "--pool", "perdim")
    run("publish", "--db", db, "--model", tmp / "model", "--artifacts", art)
    return {"tmp": tmp, "db": db, "art": art, "v0": (art / "CURRENT").read_text().strip()}


@pytest.fixture
def w(world, tmp_path):
    """A private copy of the database and the artifacts, a runs directory, a server."""
    d = {"db": tmp_path / "catalog.db", "art": tmp_path / "art", "runs": tmp_path / "runs",
         "tmp": tmp_path, "v0": world["v0"]}
    shutil.copy(world["db"], d["db"])
    shutil.copytree(world["art"], d["art"])
    d["srv"] = Server(d["db"], d["art"], tmp_path / "serve.log")
    yield d
    d["srv"].stop()


def signup(srv):
    name = f"p{uuid.uuid4().hex[:10]}"
    r = srv.post(f"{API}/auth/signup", {"username": name, "email": f"{name}@example.org",
                                         "password": "correct horse 1"})
    assert r.status_code == 201, r.text
    return r.json()


# ---- tests ----

def test_pipeline_publishes_new_ratings_under_load(w):
    db, art, srv = w["db"], w["art"], w["srv"]
    v0 = w["v0"]
    assert srv.ready()["version"] == v0
    # The reference reader: in the ALS model, with books the new readers will also rate.
    warm = [r[0] for r in sql(db, "SELECT user_id FROM interactions GROUP BY user_id "
                                  "HAVING COUNT(*) BETWEEN 12 AND 30 ORDER BY user_id")]
    ref = next(u for u in warm if srv.post("/is_warm", {"user": u}).json().get("warm"))
    ref_books = [r[0] for r in sql(db, "SELECT i.item_idx FROM interactions i JOIN works w "
                                       "ON w.item_idx = i.item_idx WHERE i.user_id = ? AND "
                                       "w.has_title = 1 ORDER BY i.rating DESC, i.item_idx "
                                       "LIMIT 8", ref)]
    assert len(ref_books) >= 5
    # The target: a titled book with the fewest train interactions (the demo catalog has
    # none without), far down the popular list and not among the reference reader's ALS
    # recommendations.
    pop0, pv = popular_ids(srv)
    recs0, rv = als_recs(srv, ref)
    assert pv == v0 and rv == v0
    low = [r[0] for r in sql(db, "SELECT f.item_idx FROM split_folds f JOIN splits s ON "
                                 "s.split_id = f.split_id AND s.active = 1 JOIN works w ON "
                                 "w.item_idx = f.item_idx WHERE f.fold = 0 AND w.has_title = 1 "
                                 "GROUP BY f.item_idx ORDER BY COUNT(*), f.item_idx LIMIT 50")]
    target = next(b for b in low if b not in recs0 and b not in ref_books)
    rank0 = [b for b, _ in pop0].index(target)
    assert rank0 > len(pop0) // 2, (rank0, len(pop0))

    # Load throughout: from before the first rating until after the new version serves.
    duration = 75
    report = w["tmp"] / "loadgen.json"
    lg = subprocess.Popen([LOADGEN, "--url", srv.url, "--artifacts", str(art), "--duration",
                           str(duration), "--threads", "2", "--report", str(report)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    try:
        # New readers sign up and rate through the API.
        for _ in range(N_READERS):
            tok = signup(srv)["token"]
            for b, rating in [(target, 10)] + [(b, 9) for b in ref_books]:
                r = srv.post(f"{API}/ratings", {"book": b, "rating": rating}, token=tok)
                assert r.status_code in (200, 201), r.text
        n_new = N_READERS * (1 + len(ref_books))
        assert sql(db, "SELECT COUNT(*) FROM interactions WHERE source = 'api' AND ts > 0")[0][0] \
            == n_new

        p = pipeline(w, "run", check=0,
                     sets=[f"pipeline.reload_url={srv.url}{API}/admin/reload",
                           f"serve.admin_token={ADMIN}", "pipeline.gate_margin=0.05"])
        assert "reload: " in p.stdout and "answered 200" in p.stdout, p.stdout
        v1 = (art / "CURRENT").read_text().strip()
        assert v1 != v0 and ID_RE.match(v1)
        # Every service loads it; the gateway serves it.
        h = wait_for(lambda: (lambda x: x if x and x["version"] == v1 and
                              all(s.get("version") == v1 for s in x["services"]) else None)(
            srv.ready()), 30, "every service to load the new version")
        assert sorted(s["role"] for s in h["services"]) == sorted(ROLES)
        r = requests.get(srv.url + f"{API}/popular", params={"page": 1, "page_size": 5},
                         timeout=30)
        assert r.status_code == 200 and r.headers.get("X-Model-Version") == v1, r.headers

        # The new ratings are in the retrained model: the book enters the popular list, and
        # another reader (who rated none of it) gets it from ALS.
        pop1, pv = popular_ids(srv)
        recs1, rv = als_recs(srv, ref)
        assert pv == v1 and rv == v1
        rank1 = [b for b, _ in pop1].index(target)
        count0 = round(math.expm1(pop0[rank0][1]))
        count1 = round(math.expm1(pop1[rank1][1]))
        print(f"book {target}: popular rank {rank0} -> {rank1} of {len(pop1)}, train "
              f"interactions {count0} -> {count1}")
        # New readers are train readers unless the seeded hash draws them cold (10%).
        assert count0 + N_READERS // 2 <= count1 <= count0 + N_READERS
        assert rank1 < rank0 - 100, (rank0, rank1)
        assert target in recs1, f"reader {ref} is not recommended the co-rated book {target}"
        assert recs1 != recs0

        # The run's record: what was new, no rejects, the gate on validation, the manifest.
        rec = runs_json(w)[0]
        assert rec["status"] == "published" and rec["version"] == v1
        steps = {s["name"]: s for s in rec["steps"]}
        assert list(steps) == ["export", "clean", "split", "features", "als", "subjects",
                               "indexes", "gate", "publish"]
        for s in rec["steps"]:
            assert s["status"] == "ok" and s["seconds"] >= 0 and s["finished_at"] >= \
                s["started_at"], s
        assert steps["export"]["report"]["new_since_last"]["api_ratings"] == n_new
        assert steps["export"]["report"]["new_since_last"]["api_readers"] == N_READERS
        assert steps["clean"]["report"]["rejected"] == 0
        assert steps["split"]["report"]["new_interactions_assigned"] == n_new
        assert steps["subjects"]["report"]["subject_start"]["mode"] == "warm"
        gate = rec["gate"]
        assert gate["fold"] == "val" and gate["passed"] is True
        assert gate["current_version"] == v0 and gate["current_recall@30"] > 0
        man = json.loads((art / "versions" / v1 / "manifest.json").read_text())
        assert man["metrics"]["gate"]["recall@30"] == gate["recall@30"]
        assert man["metrics"]["validation"]["warm_fold"] == "val"
        assert man["pipeline"]["run"] == rec["id"]
        # The snapshot was scrubbed of credentials, and the live database is untouched by
        # the split (its frozen split still has the batch folds only).
        assert steps["export"]["report"]["scrubbed"]["accounts"] >= N_READERS
        assert sql(db, "SELECT COUNT(*) FROM split_folds f JOIN interactions i ON "
                       "i.user_id = f.user_id AND i.item_idx = f.item_idx "
                       "WHERE i.source = 'api'")[0][0] == 0
    finally:
        _, err = lg.communicate(timeout=duration + 120)
    assert time.monotonic() - t0 >= duration - 1
    assert lg.returncode == 0, err
    rep = json.loads(report.read_text())
    print(json.dumps({k: rep[k] for k in ("ok", "failed", "mixed", "retries")}))
    assert rep["failed"] == 0, rep.get("last_error")
    assert rep["mixed"] == 0
    assert rep["ok"] > 100
    served = {v["id"] for v in rep["versions"]}
    assert {v0, v1} <= served, served


def test_scrambled_run_is_blocked_and_notifies(w):
    db, art, srv, v0 = w["db"], w["art"], w["srv"], w["v0"]
    hook = Receiver()
    mailer, mail = fake_sendmail(w["tmp"])
    try:
        sets = [f"pipeline.notify_webhook={hook.url}",
                f"pipeline.notify_command={mailer} -t ops@example.org"]
        p = pipeline(w, "run", sets=sets, check=3,
                     extra_env={"BOOKREC_TEST_SCRAMBLE_FACTORS": "1"})
        assert "BLOCKED" in p.stdout and "quality gate" in p.stderr, p.stderr[-3000:]
        # The old version keeps serving; no version was added to the artifacts.
        assert (art / "CURRENT").read_text().strip() == v0
        assert versions(art) == [v0]
        h = srv.ready()
        assert h["version"] == v0 and all(s["version"] == v0 for s in h["services"])
        # The gate's reasons, in the record.
        rec = runs_json(w)[0]
        assert rec["status"] == "blocked" and rec["failed_step"] == "gate"
        gate = rec["gate"]
        assert gate["passed"] is False and gate["current_version"] == v0
        assert gate["recall@30"] < gate["current_recall@30"] - gate["margin"]
        assert any("below the current version" in x for x in gate["reasons"])
        assert rec["steps"][8]["status"] == "pending"
        # The notifications arrived.
        assert len(hook.got) == 1, hook.got
        body = json.loads(hook.got[0]["body"])
        assert hook.got[0]["type"] == "application/json"
        assert body["event"] == "bookrec.pipeline" and body["status"] == "blocked"
        assert body["run"] == rec["id"] and body["step"] == "gate"
        assert body["gate"]["passed"] is False
        text = mail.read_text()
        assert "argv: -t ops@example.org" in text
        assert re.search(r"^Subject: bookrec pipeline blocked .*" + rec["id"], text, re.M)
        assert "current model version keeps serving" in text

        # Resuming reruns the gate only (the scrambled factors are the run's outputs): still
        # blocked, the earlier steps untouched.
        before = {s["name"]: s.get("started_at") for s in rec["steps"]}
        p = pipeline(w, "resume", rec["id"], sets=sets, check=3)
        rec2 = runs_json(w)[0]
        assert rec2["id"] == rec["id"] and rec2["status"] == "blocked"
        assert rec2["attempts"] == 2 and rec2["resumed_at"] == "gate"
        for s in rec2["steps"][:7]:
            assert s["started_at"] == before[s["name"]], s["name"]
        assert rec2["steps"][7]["started_at"] > before["gate"]
        assert len(hook.got) == 2
        assert (art / "CURRENT").read_text().strip() == v0
    finally:
        hook.stop()


def test_failed_step_notifies_and_resumes_there(w, tmp_path):
    hook = Receiver()
    try:
        sets = [f"pipeline.notify_webhook={hook.url}"]
        # A database without interactions: the split step has nothing to split.
        empty = tmp_path / "empty.db"
        run("split", "--db", empty, check=False)
        w2 = dict(w, db=empty)
        p = pipeline(w2, "run", sets=sets, check=1)
        assert "pipeline run failed" in p.stderr
        rec = runs_json(w)[0]
        assert rec["status"] == "failed" and rec["failed_step"] == "split", rec
        assert [s["status"] for s in rec["steps"]][:4] == ["ok", "ok", "failed", "pending"]
        assert "no interactions" in rec["error"]
        body = json.loads(hook.got[-1]["body"])
        assert body["status"] == "failed" and body["step"] == "split"
        assert (w["art"] / "CURRENT").read_text().strip() == w["v0"]

        # A changed output of a completed step reruns that step (and what follows).
        snap = w["runs"] / rec["id"] / "export" / "snapshot.db"
        with open(snap, "ab") as f:
            f.write(b"\0" * 512)
        p = pipeline(w2, "resume", rec["id"], sets=sets, check=1)
        assert "output of step export" in p.stderr and "rerunning from there" in p.stderr
        rec2 = runs_json(w)[0]
        assert rec2["resumed_at"] == "export" and rec2["attempts"] == 2
        assert rec2["failed_step"] == "split"
        # Nothing to resume: an unknown run id is refused.
        p = pipeline(w2, "resume", "20000101-000000-000-00000000", check=1)
        assert "no such run" in p.stderr
    finally:
        hook.stop()
