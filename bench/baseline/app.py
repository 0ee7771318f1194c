"""The serving baseline of bench/serving.md: the seed's stack (FastAPI + uvicorn + numpy +
FAISS, two uvicorn workers) answering the same public requests as bookrec's gateway, from
the same published version (include/bookrec/publish.h) and the same database.

Served (the subset the benchmark drives; same paths, parameters, reply shapes and headers):
  GET /api/v1/recommendations?mode=auto|subject|behavioral&a=&page=&page_size=&subjects=
  GET /api/v1/books/{id}
  GET /api/v1/books/{id}/similar?mode=als|subject|hybrid&w=&k=
  GET /health, GET /_bench/cache (hits and misses summed over the workers)

Design decisions, each meant to give the baseline the best fair chance:
1. Arrays are np.load(mmap_mode="r") views of the version's .npy files, as the seed loaded
   its model; book metadata lines (books.jsonl + books_offsets.npy) are spliced into replies
   as bytes, without json.loads/json.dumps, as the C metadata service does.
2. Similar books: one FAISS IndexHNSWFlat (inner product, M 16, efConstruction 200, the
   C indexes' parameters) per mode over the unit vectors of the books that may be shown
   (allow.npy); hybrid is the concatenation [s; a] queried with [w s_q; (1 - w) a_q], as
   lib/index/hybrid.c. efSearch as the C side: 100 (als, subject), br_hybrid_default_ef(w).
   The indexes are built once (`app.py build-indexes ART OUT`) and read by each worker.
3. ALS recommendations: numpy dot over the item factors (the rows that may be returned,
   compacted at start) + argpartition (the seed's way);
   cold recommendations: attention pooling of the subject embeddings (perdim, scalar or mean,
   as lib/model/subject_emb.c) then the exact min-max blend of br_rec_cold.
4. Accounts: the bearer token's BLAKE2b-256 hex is looked up in the sessions table, the
   reader's interactions and chosen subjects read from SQLite per request, as the gateway
   does; the cache key is the gateway's (version and reader state), looked up after the
   reader is loaded. The cache is an in-process LRU dict per worker (recommendations only,
   as the gateway), BASELINE_CACHE_ENTRIES (0: off). Readers whose interactions are newer
   than the model (fold-in) get 501: the benchmark's warm readers are all in the model.
5. Handlers are `async def` doing their (CPU-bound, GIL-holding) work inline: a thread pool
   would add hand-offs and no parallelism. OMP/BLAS threads are 1 per worker.

Environment: BASELINE_ARTIFACTS (artifacts dir), BASELINE_DB (SQLite path), BASELINE_FAISS
(dir of build-indexes), BASELINE_CACHE_ENTRIES (default 20000), BASELINE_COUNTERS (a file
for the cache counters shared by the workers), BASELINE_WARM_MIN (default 5).
"""
import calendar
import collections
import fcntl
import hashlib
import json
import math
import os
import sqlite3
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import faiss  # noqa: E402
import numpy as np  # noqa: E402

MAX_K = 100
MAX_PAGE, MAX_PAGE_SIZE = 50, 100
MAX_READ = 5000
HNSW_M, HNSW_EFC = 16, 200


def version_dir(art):
    with open(os.path.join(art, "CURRENT")) as f:
        vid = f.read().strip()
    return vid, os.path.join(art, "versions", vid)


def unit_rows(m):
    m = np.asarray(m, dtype=np.float32)
    n = np.linalg.norm(m, axis=1)
    out = np.zeros_like(m)
    nz = n > 0
    out[nz] = m[nz] / n[nz, None]
    return out, nz


class Model:
    """One version's arrays (mmap'd) and derived per-worker structures."""

    def __init__(self, art, faiss_dir=None):
        self.version, v = version_dir(art)
        ld = lambda rel: np.load(os.path.join(v, rel), mmap_mode="r")  # noqa: E731
        man = json.load(open(os.path.join(v, "manifest.json")))
        self.cold_a = float(man["params"]["serving"].get("cold_a", 0.8))
        # version ids are YYYYMMDD-HHMMSS-... (UTC), as gw_recs.c version_time
        self.version_time = calendar.timegm(time.strptime(self.version[:15], "%Y%m%d-%H%M%S"))
        # embedder
        p = json.load(open(os.path.join(v, "embedder/params.json")))
        self.pool, self.max_set = p["pool"], int(p["max_set"])
        self.emb = ld("embedder/subject_emb.npy")
        if self.pool != "mean":
            self.att_w, self.att_b = ld("embedder/attn_w.npy"), ld("embedder/attn_b.npy")
        with open(os.path.join(v, "embedder/subjects.txt"), encoding="utf-8") as f:
            self.subject_id = {ln.rstrip("\n"): i for i, ln in enumerate(f) if ln.strip()}
        # similarity
        self.book_vecs = ld("similarity/book_vectors.npy")
        self.has_subject = ld("similarity/has_subject.npy").astype(bool)
        self.prior = ld("similarity/prior.npy")
        self.allow = ld("similarity/allow.npy").astype(bool)
        # als
        self.user_f = ld("als/user_factors.npy")
        self.item_f = ld("als/item_factors.npy")
        self.als_users = ld("als/als_users.npy")
        self.als_allow = ld("als/allow.npy").astype(bool)
        # metadata
        self.offsets = ld("metadata/books_offsets.npy")
        with open(os.path.join(v, "metadata/books.jsonl"), "rb") as f:
            self.books = f.read()  # 40 MB; bytes slicing is what a Python server would do
        self.popular = ld("metadata/popular.npy")
        self.popular_scores = ld("metadata/popular_scores.npy")
        # subject side of the cold blend: rows with a vector
        self.cold_rows = np.flatnonzero(self.has_subject)
        self.cold_vecs = np.ascontiguousarray(self.book_vecs[self.cold_rows])
        self.cold_prior = np.asarray(self.prior[self.cold_rows])
        self.cold_allow = self.allow[self.cold_rows]
        self.n_items = self.item_f.shape[0]
        # ALS side: the rows that may be returned (shown, and trained: a zero row has no
        # vector), compacted once per worker (C: the MIPS index holds the trained rows)
        self.warm_rows = np.flatnonzero(self.als_allow & np.any(np.asarray(self.item_f) != 0,
                                                                axis=1))
        self.warm_f = np.ascontiguousarray(self.item_f[self.warm_rows])
        if faiss_dir:
            self.index = {m: faiss.read_index(os.path.join(faiss_dir, m + ".faiss"))
                          for m in ("als", "subject", "hybrid")}
            self.labels = {m: np.load(os.path.join(faiss_dir, m + ".labels.npy"))
                           for m in ("als", "subject", "hybrid")}
            self.als_unit = np.load(os.path.join(faiss_dir, "als_unit.npy"), mmap_mode="r")
            self.has_als = np.load(os.path.join(faiss_dir, "has_als.npy"), mmap_mode="r")

    def book(self, i):
        """The pre-rendered JSON line of book i, or None."""
        if i < 0 or i + 1 >= len(self.offsets):
            return None
        line = self.books[int(self.offsets[i]):int(self.offsets[i + 1]) - 1]
        return None if line == b"null" else line

    def embed(self, ids):
        e = np.asarray(self.emb[ids], dtype=np.float32)
        if self.pool == "mean":
            return e.mean(axis=0)
        if self.pool == "perdim":
            z = e @ np.asarray(self.att_w).T + self.att_b  # [n, D]
        else:
            z = (e @ np.asarray(self.att_w) + self.att_b[0])[:, None]  # [n, 1]
        a = np.exp(np.maximum(z - z.max(axis=0), -80.0))
        a /= a.sum(axis=0)
        return (a * e).sum(axis=0)

    def cold(self, u, a, k, exclude):
        """br_rec_cold: a * minmax(cos) + (1 - a) * minmax(prior) over shown books with
        subjects, read books removed; ties to the smaller id."""
        un = float(np.linalg.norm(u))
        if not un > 0:
            return [], []
        ok = self.cold_allow.copy()
        if exclude:
            ok &= ~np.isin(self.cold_rows, exclude)
        rows = self.cold_rows[ok]
        cos = (self.cold_vecs[ok] @ u) / un
        pr = self.cold_prior[ok]
        if len(rows) == 0:
            return [], []
        cmin, cmax, pmin, pmax = cos.min(), cos.max(), pr.min(), pr.max()
        cs = 1.0 / (cmax - cmin) if cmax > cmin else 0.0
        ps = 1.0 / (pmax - pmin) if pmax > pmin else 0.0
        v = (a * (cos - cmin) * cs + (1 - a) * (pr - pmin) * ps).astype(np.float32)
        return top(v, rows, k)

    def warm(self, user, k, exclude):
        s = self.warm_f @ self.user_f[user]
        if exclude:
            s[np.isin(self.warm_rows, exclude)] = -np.inf
        ids, sc = top(s, self.warm_rows, k)
        keep = np.isfinite(sc)
        return ids[keep], sc[keep]

    def similar(self, q, mode, w, k):
        """As role_similarity.c: the query's own vectors; None when it has none."""
        sv = np.asarray(self.book_vecs[q]) if self.has_subject[q] else None
        av = np.asarray(self.als_unit[q]) if self.has_als[q] else None
        if mode == "als":
            qv, ef = av, 100
        elif mode == "subject":
            qv, ef = sv, 100
        else:
            if sv is None and av is None:
                return None
            qv = np.concatenate([w * sv if sv is not None else np.zeros(self.book_vecs.shape[1],
                                                                         np.float32),
                                 (1 - w) * av if av is not None else np.zeros(
                                     self.als_unit.shape[1], np.float32)])
            ef = int(128 * (1 + min(abs(2 * w - 1), 1)))
        if qv is None:
            return None
        idx = self.index[mode]
        idx.hnsw.efSearch = max(ef, k)
        d, i = idx.search(np.ascontiguousarray(qv[None, :], dtype=np.float32), k + 1)
        lab = self.labels[mode][i[0][i[0] >= 0]]
        d = d[0][i[0] >= 0]
        keep = lab != q
        if mode == "hybrid":  # a book needs a vector on a side that carries weight
            side_s = sv is not None and w > 0
            side_a = av is not None and w < 1
            keep &= (self.has_subject[lab] & side_s) | (self.has_als[lab] & side_a)
        return lab[keep][:k], d[keep][:k]


def top(scores, ids, k):
    """The k best (scores desc, ties to the smaller id) as (ids, scores)."""
    k = min(k, len(scores))
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    part = np.argpartition(-scores, k - 1)[:k]
    part = part[np.lexsort((part, -scores[part]))]
    return (part if ids is None else ids[part]), scores[part]


def build_indexes(art, out):
    """FAISS HNSW indexes of the three similarity modes (design decision 2)."""
    os.makedirs(out, exist_ok=True)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    m = Model(art)
    allow = np.asarray(m.allow)
    als_unit, has_als = unit_rows(m.item_f)
    subj = np.asarray(m.book_vecs, dtype=np.float32)
    np.save(os.path.join(out, "als_unit.npy"), als_unit)
    np.save(os.path.join(out, "has_als.npy"), has_als)
    sets = {"als": (als_unit, allow & has_als),
            "subject": (subj, allow & m.has_subject),
            "hybrid": (np.hstack([subj, als_unit]), allow & (has_als | m.has_subject))}
    for name, (vecs, rows) in sets.items():
        labels = np.flatnonzero(rows).astype(np.int64)
        idx = faiss.IndexHNSWFlat(vecs.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        idx.hnsw.efConstruction = HNSW_EFC
        t = time.time()
        idx.add(np.ascontiguousarray(vecs[labels]))
        faiss.write_index(idx, os.path.join(out, name + ".faiss"))
        np.save(os.path.join(out, name + ".labels.npy"), labels)
        print(f"baseline: {name}: {len(labels)} vectors of {vecs.shape[1]} dims "
              f"in {time.time() - t:.1f} s", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# The server (imported by uvicorn in each worker)

if __name__ != "__main__":
    from fastapi import FastAPI, Request

    faiss.omp_set_num_threads(1)  # one query at a time: OpenMP threads would only spin
    from fastapi.responses import Response

    ART = os.environ.get("BASELINE_ARTIFACTS")
    DB = os.environ.get("BASELINE_DB")
    CACHE_ENTRIES = int(os.environ.get("BASELINE_CACHE_ENTRIES", "20000"))
    WARM_MIN = int(os.environ.get("BASELINE_WARM_MIN", "5"))
    M = Model(ART, os.environ.get("BASELINE_FAISS")) if ART else None
    db = sqlite3.connect(f"file:{DB}?mode=ro", uri=True) if DB else None
    cache = collections.OrderedDict()

    class Counters:
        """Hits and misses in a file shared by the workers: one row (pid, hits, misses)
        each, claimed under flock at start."""

        def __init__(self, path, rows=16):
            self.row = None
            if not path:
                return
            with open(path, "a+b") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                if os.path.getsize(path) < rows * 24:
                    f.truncate(rows * 24)
                self.m = np.memmap(path, dtype=np.int64, mode="r+", shape=(rows, 3))
                for r in range(rows):
                    if self.m[r, 0] == 0:
                        self.m[r] = (os.getpid(), 0, 0)
                        self.row = r
                        break
                self.m.flush()

        def add(self, col):
            if self.row is not None:
                self.m[self.row, col] += 1

        def total(self):
            return (int(self.m[:, 1].sum()), int(self.m[:, 2].sum())) if self.row is not None \
                else (0, 0)

    counters = Counters(os.environ.get("BASELINE_COUNTERS"))
    app = FastAPI()

    def error(status, code, msg, headers=None):
        return Response(json.dumps({"error": {"code": code, "message": msg}}), status,
                        headers=headers, media_type="application/json")

    def q_int(req, name, lo, hi, default):
        v = req.query_params.get(name)
        if not v:
            return default
        try:
            x = int(v)
        except ValueError:
            x = None
        if x is None or x < lo or x > hi:
            raise ValueError(f"{name} must be an integer between {lo} and {hi}")
        return x

    def q_float(req, name, lo, hi, default):
        v = req.query_params.get(name)
        if not v:
            return default
        try:
            x = float(v)
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(f"{name} must be a number between {lo:g} and {hi:g}")
        return x

    def render_items(ids, scores):
        parts = []
        for i, s in zip(ids, scores):
            line = M.book(int(i))
            if line is not None:
                parts.append(b'{"book":' + line + b',"score":' + repr(float(s)).encode() + b"}")
        return b"[" + b",".join(parts) + b"]"

    def account(req):
        """The account of the bearer token, None when anonymous; raises PermissionError."""
        a = req.headers.get("authorization")
        if not a:
            return None
        if not a.startswith("Bearer ") or len(a) > 300:
            raise PermissionError
        h = hashlib.blake2b(a[7:].encode(), digest_size=32).hexdigest()
        row = db.execute("SELECT account_id, csrf FROM sessions WHERE token_hash = ? AND "
                         "expires_at > ?", (h, int(time.time()))).fetchone()
        if not row:
            raise PermissionError
        return row[0]

    @app.get("/health")
    async def health():
        return {"status": "ok", "version": M.version, "pid": os.getpid()}

    @app.get("/_bench/cache")
    async def cache_stats():
        h, m = counters.total()
        return {"hits": h, "misses": m}

    @app.get("/api/v1/recommendations")
    async def recommendations(request: Request):
        try:
            mode = request.query_params.get("mode") or "auto"
            a = q_float(request, "a", 0, 1, 0.8)
            subjects = request.query_params.get("subjects") or None
            page = q_int(request, "page", 1, MAX_PAGE, 1)
            size = q_int(request, "page_size", 1, MAX_PAGE_SIZE, 20)
            if subjects and len(subjects) > 1000:
                raise ValueError("subjects is longer than 1000 bytes")
        except ValueError as e:
            return error(400, "bad_request", str(e))
        if mode not in ("auto", "subject", "behavioral"):
            return error(400, "bad_request", "mode must be auto, subject or behavioral")
        try:
            user = account(request)
        except PermissionError:
            return error(401, "unauthorized", "the token is invalid or has expired")
        items, newest, fav = [], 0, []
        if user is not None:
            rows = db.execute("SELECT item_idx, ts, rating FROM interactions WHERE user_id = ? "
                              "ORDER BY item_idx", (user,)).fetchall()[:MAX_READ]
            items = [r[0] for r in rows]
            newest = max((r[1] or 0 for r in rows), default=0)  # NULL ts: 0, as C
            fav = [r[0] for r in db.execute(
                "SELECT subject_id FROM user_fav_subjects WHERE user_id = ? AND "
                "origin = 'chosen' ORDER BY subject_id", (user,))]
        names = [s for s in subjects.split(",") if s][:16] if subjects else []
        can_behave = user is not None and len(items) >= WARM_MIN and len(items) > 0
        has_subjects = bool(fav or names)
        if mode == "behavioral" and not can_behave:
            return error(422, "not_enough_ratings", "behavioral recommendations need "
                         f"{WARM_MIN} rated or read books (you have {len(items)})")
        if mode == "subject" and not has_subjects:
            return error(422, "no_subjects", "choose favorite subjects (or pass subjects=...)")
        use = (("behavioral" if can_behave else "subject" if has_subjects else "popular")
               if mode == "auto" else mode)
        key = (f"recs|{M.version}|u{user or 0}|n{len(items)}|t{newest}|{use}|a{a:.3f}|p{page}"
               f"|s{size}|{'' if user else (subjects or '')}")
        hdr = {"X-Model-Version": M.version}
        if CACHE_ENTRIES > 0:
            hit = cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                cache.move_to_end(key)
                counters.add(1)
                hdr["X-Cache"] = "hit"
                return Response(hit[1], 200, headers=hdr, media_type="application/json")
            counters.add(2)
        k = page * size + 1
        if use == "behavioral":
            uidx = int(np.searchsorted(M.als_users, user))
            warm = uidx < len(M.als_users) and M.als_users[uidx] == user
            if not (warm and newest < M.version_time):
                return error(501, "not_implemented", "fold-in is not in the baseline")
            ids, sc = M.warm(user, k, items)
        elif use == "subject":
            sid = []
            for s in fav + names:
                i = s if isinstance(s, int) else M.subject_id.get(s)
                if i is not None and 0 <= i < len(M.emb) and i not in sid and \
                        len(sid) < M.max_set:
                    sid.append(i)
            if not sid:
                return error(422, "unknown_subjects", "none of these subjects is known")
            ids, sc = M.cold(M.embed(sid), a, k, items)
        else:
            read = set(items)
            pop = [(int(i), float(s)) for i, s in zip(M.popular[:min(k + len(items), 1000)],
                                                      M.popular_scores) if int(i) not in read]
            pop = pop[:k]
            ids, sc = [p[0] for p in pop], [p[1] for p in pop]
        lo = (page - 1) * size
        reason = {"behavioral": "from what you have rated and read",
                  "subject": "from your favorite subjects and what is popular",
                  "popular": "popular with readers"}[use]
        body = (b'{"mode":' + json.dumps(use).encode() + b',"requested":' +
                json.dumps(mode).encode() + b',"reason":' + json.dumps(reason).encode() +
                b',"a":' + repr(a).encode() + b',"page":%d,"page_size":%d,"items":' %
                (page, size) + render_items(ids[lo:lo + size], sc[lo:lo + size]) +
                b',"has_more":' + (b"true" if len(ids) > lo + size else b"false") +
                b',"version":' + json.dumps(M.version).encode() +
                b',"ratings":%d,"warm_min_ratings":%d}' % (len(items), WARM_MIN))
        if CACHE_ENTRIES > 0:
            cache[key] = (time.monotonic() + 3600, body)
            if len(cache) > CACHE_ENTRIES:
                cache.popitem(last=False)
            hdr["X-Cache"] = "miss"
        return Response(body, 200, headers=hdr, media_type="application/json")

    def book_id(s):
        try:
            x = int(s)
        except ValueError:
            return None
        return x if 0 <= x < 2**31 - 1 and s.isdigit() else None

    @app.get("/api/v1/books/{book}")
    async def book_get(book: str, request: Request):
        q = book_id(book)
        if q is None:
            return error(400, "bad_request", "the book id must be a non-negative integer")
        try:
            user = account(request)
        except PermissionError:
            return error(401, "unauthorized", "the token is invalid or has expired")
        line = M.book(q)
        if line is None:
            return error(404, "not_found", f"no book {q}")
        b = json.loads(line)
        eds = db.execute("SELECT isbn13, isbn10, year, title, publisher FROM editions WHERE "
                         "item_idx = ? ORDER BY isbn13", (q,)).fetchall()
        b["editions"] = [{"isbn13": e[0], "isbn10": e[1] or None, "year": e[2] or None,
                          "title": e[3] or None, "publisher": e[4] or None} for e in eds[:20]]
        b["editions_total"] = len(eds)
        b["my_rating"] = None
        if user is not None:
            r = db.execute("SELECT rating, ts FROM interactions WHERE user_id = ? AND "
                           "item_idx = ?", (user, q)).fetchone()
            if r:
                b["my_rating"] = {"rating": r[0] or None, "ts": r[1]}
        return Response(json.dumps({"book": b}, ensure_ascii=False, separators=(",", ":")),
                        200, headers={"X-Model-Version": M.version},
                        media_type="application/json")

    @app.get("/api/v1/books/{book}/similar")
    async def book_similar(book: str, request: Request):
        q = book_id(book)
        if q is None:
            return error(400, "bad_request", "the book id must be a non-negative integer")
        try:
            k = q_int(request, "k", 1, MAX_K, 20)
            w = q_float(request, "w", 0, 1, 0.5)
        except ValueError as e:
            return error(400, "bad_request", str(e))
        mode = request.query_params.get("mode") or "hybrid"
        if mode not in ("als", "subject", "hybrid"):
            return error(400, "bad_request", "mode must be als, subject or hybrid")
        hdr = {"X-Model-Version": M.version}
        head = (b'{"book":%d,"mode":' % q + json.dumps(mode).encode() + b',"w":' +
                repr(w).encode())
        if q >= M.n_items:
            return error(404, "not_found", f"no book {q}")
        r = M.similar(q, mode, w, k)
        if r is None:
            if M.book(q) is None:
                return error(404, "not_found", f"no book {q}")
            return Response(head + b',"items":[],"reason":"not enough data about this book '
                            b'for this kind of similarity"}', 200, headers=hdr,
                            media_type="application/json")
        return Response(head + b',"items":' + render_items(*r) + b"}", 200, headers=hdr,
                        media_type="application/json")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "build-indexes":
        build_indexes(sys.argv[2], sys.argv[3])
    else:
        sys.exit("usage: app.py build-indexes ARTIFACTS OUT_DIR "
                 "(serve with: python3 -m uvicorn app:app --workers 2)")
