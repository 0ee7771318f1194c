"""Zero-downtime rollout: five model services as separate processes, a load generator
running for 60 s (tests/load/loadgen.c), and 20 new versions published meanwhile, each
trained with another seed. The load generator names one version per request in every
sub-request, checks every sub-reply names it, and replays a sample offline on that
version (answers must be identical). Afterwards each service has only the last version's
files mapped. On the synthetic demo catalog (bookrec demo-data): the point is the
serving machinery, not the data."""
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests

from conftest import BIN, ROOT, run

LOADGEN = os.environ.get("BOOKREC_LOADGEN", str(ROOT / "build" / "loadgen"))
# The services may run from another build (CI runs this test again with ThreadSanitizer).
SERVE_BIN = os.environ.get("BOOKREC_SERVE_BIN", BIN)
ROLES = ["embedder", "similarity", "als", "metadata", "semantic"]
DURATION = float(os.environ.get("BOOKREC_ROLLOUT_SECONDS", "60"))
N_VERSIONS = int(os.environ.get("BOOKREC_ROLLOUT_VERSIONS", "20"))
GRACE_MS = 3000


def start_service(role, artifacts, log):
    p = subprocess.Popen(
        [SERVE_BIN, "--set", f"serve.grace_ms={GRACE_MS}", "serve", "--role", role, "--listen",
         "127.0.0.1:0", "--artifacts", str(artifacts)],
        stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://[0-9.]+:\d+", line)
    assert m, f"{role} did not start: {line!r}"
    return p, m.group(0)


def mapped_versions_and_pss(pid, artifacts):
    """Version ids whose files pid maps, and the Pss (kB) of those mappings."""
    ids, pss, current = set(), 0, None
    prefix = str(Path(artifacts).resolve() / "versions") + "/"
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                path = parts[5] if len(parts) >= 6 else ""
                current = path if path.startswith(prefix) else None
                if current:
                    ids.add(current[len(prefix):].split("/")[0])
            elif current and parts[0] == "Pss:":
                pss += int(parts[1])
    return ids, pss


def total_pss(pid):
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def role_bytes(artifacts, version, role):
    man = json.loads((Path(artifacts) / "versions" / version / "manifest.json").read_text())
    return sum(f["size"] for f in man["files"] if f["role"] == role)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    d = tmp_path_factory.mktemp("rollout")
    db = d / "d.db"
    run("demo-data", d / "demo")
    run("import", "--db", db, "--report-json", d / "r.json", d / "demo")
    run("split", "--db", db)
    models = []
    for seed in range(1, N_VERSIONS + 2):
        m = d / f"model-{seed}"
        run("train", "--db", db, "--out", m, "--pool", "perdim", "--seed", seed)
        models.append(m)
    return d, db, models


def test_rollout_under_load_twenty_versions(catalog):
    d, db, models = catalog
    art = d / "art"
    run("publish", "--db", db, "--model", models[0], "--artifacts", art)
    log = open(d / "services.log", "w")
    procs = {}
    try:
        for role in ROLES:
            procs[role] = start_service(role, art, log)
        services = ",".join(f"{r}={procs[r][1]}" for r in ROLES)
        for r in ROLES:
            assert requests.get(procs[r][1] + "/health", timeout=5).json()["version"]
        report = d / "loadgen.json"
        lg = subprocess.Popen([LOADGEN, "--services", services, "--artifacts", str(art),
                               "--duration", str(DURATION), "--threads", "4",
                               "--sample-every", "25", "--verify", "--report", str(report)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        # Publish 20 versions spread over the run (each a full build: indexes, metadata...).
        published = []
        t0 = time.monotonic()
        for i in range(N_VERSIONS):
            target = t0 + 2 + i * (DURATION - 8) / N_VERSIONS
            time.sleep(max(0.0, target - time.monotonic()))
            out = run("publish", "--db", db, "--model", models[i + 1], "--artifacts", art).stdout
            published.append(re.search(r"version (\S+)", out).group(1))
        _, err = lg.communicate(timeout=DURATION + 600)
        assert lg.returncode == 0, err
        rep = json.loads(report.read_text())
        print(json.dumps({k: rep[k] for k in ("ok", "failed", "mixed", "retries",
                                               "requests_per_s", "verified_subrequests",
                                               "verify_mismatches")}))
        assert rep["failed"] == 0, rep["last_error"]
        assert rep["mixed"] == 0
        assert rep["ok"] > 1000
        assert rep["verify_mismatches"] == 0, err
        assert rep["verified_subrequests"] > 100
        seen = {v["id"] for v in rep["versions"]}
        missing = [v for v in published if v not in seen]
        assert not missing, f"versions never served: {missing}"

        # Every service loaded every version, refused none, and now holds only the last.
        time.sleep(GRACE_MS / 1000 + 1.5)
        current = (art / "CURRENT").read_text().strip()
        assert current == published[-1]
        for role in ROLES:
            h = requests.get(procs[role][1] + "/health", timeout=5).json()
            assert h["version"] == current and h["previous"] is None, h
            assert h["reloads"] == N_VERSIONS + 1 and h["reload_failures"] == 0, h
            pid = procs[role][0].pid
            ids, pss = mapped_versions_and_pss(pid, art)
            one = role_bytes(art, current, role) / 1024
            print(f"{role}: maps {sorted(ids)}, artifact Pss {pss} kB for {one:.0f} kB of "
                  f"files, process Pss {total_pss(pid)} kB")
            assert ids <= {current}, f"{role} still maps {ids}"
            assert pss <= 1.2 * one + 64, f"{role}: artifact Pss {pss} kB > 1.2 x {one:.0f} kB"
    finally:
        for p, _ in procs.values():
            p.send_signal(signal.SIGTERM)
        codes = {}
        for role, (p, _) in procs.items():
            try:
                codes[role] = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                codes[role] = "hung"
        log.close()
    # A clean stop (and, under ThreadSanitizer, no race reported: it exits non-zero).
    assert all(c == 0 for c in codes.values()), \
        f"{codes}; see {d / 'services.log'}:\n" + (d / "services.log").read_text()[-3000:]
