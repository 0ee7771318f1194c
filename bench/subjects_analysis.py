#!/usr/bin/python3
"""Evidence for the subject cleaner's thresholds (docs/subjects.md).

Builds lib/data/subjects.c into a temporary shared library and drives it
through ctypes, so every number here comes from the code that ships, not from
a re-implementation. Standard library only.

    /usr/bin/python3 bench/subjects_analysis.py [--data ../shared/data] [section ...]

Sections (default: all):
    sources  top canonical subjects of each source with their raw spellings
             (what the merge table was built from)
    plurals  multi-word tags whose last word the singularizer changed
    shelf    the data rule alone (patterns off): every candidate's divergence, the
             gap between shelf tags and content, a threshold sweep, robustness to
             the reference size and rounds, and the share-constancy signal that
             was tried and not used
    vocab    the default build: size, timing, rejections, top 30, what each
             shelf pattern catches, min_books sweep
"""
import argparse
import collections
import csv
import ctypes
import math
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "data")
REASONS = ["ok", "empty", "numeric", "too_long", "non_letter", "shelf_tag", "rare"]


class Params(ctypes.Structure):
    _fields_ = [
        ("vocab_size", ctypes.c_size_t),
        ("min_books", ctypes.c_size_t),
        ("shelf_patterns", ctypes.c_int),
        ("shelf_rounds", ctypes.c_int),
        ("shelf_ref_size", ctypes.c_size_t),
        ("shelf_ref_max_cover", ctypes.c_double),
        ("shelf_min_cover", ctypes.c_double),
        ("shelf_max_js", ctypes.c_double),
        ("shelf_min_weight", ctypes.c_double),
    ]


class Info(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("status", ctypes.c_int),
        ("id", ctypes.c_int64),
        ("generic", ctypes.c_int),
        ("books", ctypes.c_size_t),
        ("weight", ctypes.c_double),
        ("pairs", ctypes.c_uint64),
        ("raw_forms", ctypes.c_size_t),
        ("pattern", ctypes.c_char_p),
        ("cover", ctypes.c_double),
        ("js", ctypes.c_double),
    ]


def build_library(tmp):
    srcs = ["lib/data/subjects.c", "lib/data/subject_merge.c"] + [
        "lib/base/%s.c" % m for m in ("arena", "hashmap", "vec", "error", "log")
    ]
    xx = subprocess.run(["pkg-config", "--cflags", "--libs", "libxxhash"],
                        capture_output=True, text=True).stdout.split()
    out = os.path.join(tmp, "libsubjects.so")
    cmd = (["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-fPIC", "-shared", "-Iinclude"]
           + srcs + xx + ["-lm", "-o", out])
    subprocess.run(cmd, cwd=ROOT, check=True)
    lib = ctypes.CDLL(out)
    lib.br_subject_canon.restype = ctypes.c_int
    lib.br_subject_canon.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p,
                                     ctypes.c_size_t]
    lib.br_subject_shelf_pattern.restype = ctypes.c_char_p
    lib.br_subject_shelf_pattern.argtypes = [ctypes.c_char_p]
    lib.br_subject_vocab_new.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
    lib.br_subject_vocab_free.argtypes = [ctypes.c_void_p]
    lib.br_subject_vocab_add.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_char_p,
                                         ctypes.c_size_t, ctypes.c_double]
    lib.br_subject_vocab_build.argtypes = [ctypes.c_void_p, ctypes.POINTER(Params)]
    lib.br_subject_params_default.argtypes = [ctypes.POINTER(Params)]
    lib.br_subject_vocab_size.restype = ctypes.c_size_t
    lib.br_subject_vocab_size.argtypes = [ctypes.c_void_p]
    lib.br_subject_vocab_name.restype = ctypes.c_char_p
    lib.br_subject_vocab_name.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.br_subject_vocab_books.restype = ctypes.c_size_t
    lib.br_subject_vocab_books.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.br_subject_vocab_generic.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    lib.br_subject_vocab_rejected.restype = ctypes.c_uint64
    lib.br_subject_vocab_rejected.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.br_subject_vocab_lookup.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                            ctypes.POINTER(Info)]
    lib.br_subject_vocab_shelf_count.restype = ctypes.c_size_t
    lib.br_subject_vocab_shelf_count.argtypes = [ctypes.c_void_p]
    lib.br_subject_vocab_shelf.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                           ctypes.POINTER(Info)]
    return lib


class Subjects:
    def __init__(self, lib):
        self.lib = lib
        self.buf = ctypes.create_string_buffer(80)
        self.cache = {}

    def canon(self, raw):
        """(reason name, canonical form)"""
        hit = self.cache.get(raw)
        if hit is None:
            b = raw.encode("utf-8")
            r = self.lib.br_subject_canon(b, len(b), self.buf, len(self.buf))
            hit = (REASONS[r], self.buf.value.decode("utf-8"))
            self.cache[raw] = hit
        return hit

    def params(self, **kw):
        p = Params()
        self.lib.br_subject_params_default(ctypes.byref(p))
        for k, v in kw.items():
            setattr(p, k, v)
        return p

    def vocab(self, triples, **kw):
        v = ctypes.c_void_p()
        if self.lib.br_subject_vocab_new(ctypes.byref(v)) != 0:
            raise MemoryError
        for item, raw, w in triples:
            b = raw.encode("utf-8")
            rc = self.lib.br_subject_vocab_add(v, item, b, len(b), w)
            if rc != 0:
                raise RuntimeError("add: %d" % rc)
        t0 = time.perf_counter()
        rc = self.lib.br_subject_vocab_build(v, ctypes.byref(self.params(**kw)))
        if rc != 0:
            raise RuntimeError("build: %d" % rc)
        return Vocab(self.lib, v, time.perf_counter() - t0)


class Vocab:
    def __init__(self, lib, v, secs):
        self.lib, self.v, self.secs = lib, v, secs

    def __del__(self):
        self.lib.br_subject_vocab_free(self.v)

    def size(self):
        return self.lib.br_subject_vocab_size(self.v)

    def name(self, i):
        return self.lib.br_subject_vocab_name(self.v, i).decode()

    def books(self, i):
        return self.lib.br_subject_vocab_books(self.v, i)

    def generic(self, i):
        return self.lib.br_subject_vocab_generic(self.v, i)

    def rejected(self, r):
        return self.lib.br_subject_vocab_rejected(self.v, REASONS.index(r))

    def info(self, canon):
        i = Info()
        if self.lib.br_subject_vocab_lookup(self.v, canon.encode(), ctypes.byref(i)) != 0:
            return None
        return i

    def shelf(self):
        out = []
        for k in range(self.lib.br_subject_vocab_shelf_count(self.v)):
            i = Info()
            self.lib.br_subject_vocab_shelf(self.v, k, ctypes.byref(i))
            out.append(i)
        return out


def load_goodbooks(data):
    d = os.path.join(data, "goodbooks10k")
    with open(os.path.join(d, "tags.csv"), newline="", encoding="utf-8") as f:
        tags = {int(r["tag_id"]): r["tag_name"] for r in csv.DictReader(f)}
    triples = []
    with open(os.path.join(d, "derived", "book_tags_union.csv"), newline="") as f:
        for r in csv.DictReader(f):
            triples.append((int(r["goodreads_book_id"]), tags[int(r["tag_id"])],
                            float(r["count"])))
    return tags, triples


def load_openlibrary(data):
    p = os.path.join(data, "openlibrary", "dejmengit+Book-Recommendation-Engine", "data",
                     "openlibrary_books.csv")
    out = []
    with open(p, newline="", encoding="utf-8") as f:
        for i, r in enumerate(csv.DictReader(f)):
            out += [(i, s.strip(), 1.0) for s in r["subjects"].split(",") if s.strip()]
    return out


def load_google(data):
    p = os.path.join(data, "descriptions", "YSChandu+semantic_book_recommender",
                     "books_with_categories.csv")
    with open(p, newline="", encoding="utf-8") as f:
        return [(i, r["categories"], 1.0) for i, r in enumerate(csv.DictReader(f))
                if r["categories"]]


def section_sources(S, sources, top):
    for label, triples in sources:
        books = collections.defaultdict(set)
        raws = collections.defaultdict(collections.Counter)
        for item, raw, _ in triples:
            r, c = S.canon(raw)
            if r in ("ok", "shelf_tag"):
                books[c].add(item)
                raws[c][raw] += 1
        print("\n## %s: top %d canonical subjects (items, shelf?, raw spellings)" % (label, top))
        for c, b in sorted(books.items(), key=lambda x: (-len(x[1]), x[0]))[:top]:
            shelf = "SHELF" if S.canon(c)[0] == "shelf_tag" else ""
            print("%6d  %-36s %-5s %s" % (len(b), c, shelf,
                                          " | ".join(k for k, _ in raws[c].most_common(5))))


def section_plurals(S, tags, triples, min_books):
    nb = collections.Counter(tags_of for _, tags_of, _ in triples)
    print("\n## multi-word tags on >= %d books whose last word was singularized" % min_books)
    for t, n in nb.most_common():
        if n < min_books:
            break
        r, c = S.canon(t)
        words = t.lower().replace("-", " ").replace("_", " ").split()
        if r == "ok" and len(words) > 1 and words[-1].endswith("s") and \
                c.split()[-1:] != words[-1:]:
            print("%5d  %-40s -> %s" % (n, t, c))


def candidates(S, vocab, triples):
    """Every canonical form of the catalog that the data rule scored."""
    out = []
    for c in sorted({S.canon(raw)[1] for _, raw, _ in triples} - {""}):
        i = vocab.info(c)
        if i is not None and not math.isnan(i.js):
            out.append((i.js, c, i.books, i.pattern.decode() if i.pattern else "",
                        bool(i.generic)))
    return sorted(out)


def section_shelf(S, triples):
    p = S.params()
    print("\n## data rule alone (shelf_patterns=0), defaults: min_cover %.2f, ref %d "
          "(max cover %.2f), rounds %d, threshold %.3f nats"
          % (p.shelf_min_cover, p.shelf_ref_size, p.shelf_ref_max_cover, p.shelf_rounds,
             p.shelf_max_js))
    v = S.vocab(triples, shelf_patterns=0)
    cands = candidates(S, v, triples)
    print("   js     items  subject                         label")
    for js, c, b, pat, gen in cands:
        label = "shelf (pattern %s)" % pat if pat else ("generic" if gen else "content")
        flag = "FLAGGED" if js < p.shelf_max_js and not gen else ""
        print("  %.4f %6d  %-30s  %-30s %s" % (js, b, c, label, flag))
    content = [x for x in cands if not x[3] and not x[4]]
    shelf = [x for x in cands if x[3]]
    print("\n  candidates %d: %d pattern shelf tags, %d content, %d generic"
          % (len(cands), len(shelf), len(content), len(cands) - len(shelf) - len(content)))
    print("  lowest content js: %s" % ", ".join("%s %.4f" % (c, js) for js, c, *_ in content[:5]))
    below = [x for x in shelf if x[0] < content[0][0]]
    print("  pattern shelf tags below it: %d of %d" % (len(below), len(shelf)))

    print("\n## threshold sweep (patterns off): flagged shelf / flagged content")
    for t in (0.03, 0.04, 0.05, 0.06, 0.065, 0.07, 0.075, 0.08, 0.09, 0.10, 0.12):
        fs = sum(1 for x in shelf if x[0] < t)
        fc = [x[1] for x in content if x[0] < t]
        print("  %.3f  %2d / %d  %s" % (t, fs, len(fc), " ".join(fc)))

    print("\n## robustness (patterns off): lowest content js and flagged count at the threshold")
    for ref, rounds in ((100, 2), (300, 1), (300, 2), (300, 3), (1000, 2)):
        v2 = S.vocab(triples, shelf_patterns=0, shelf_ref_size=ref, shelf_rounds=rounds)
        c2 = candidates(S, v2, triples)
        first = next(x for x in c2 if not x[3] and not x[4])
        flagged = [x for x in c2 if x[0] < p.shelf_max_js and not x[4]]
        wrong = [x[1] for x in flagged if not x[3]]
        print("  ref %4d rounds %d: lowest content %s %.4f, flagged %d, of which content %s"
              % (ref, rounds, first[1], first[0], len(flagged), wrong or "none"))

    print("\n## Open Library subjects (weight 1 each) with the count requirement lifted "
          "(shelf_min_weight=0): lowest divergences")
    ol = load_openlibrary(DATA)
    v3 = S.vocab(ol, shelf_patterns=0, shelf_min_weight=0)
    for js, c, b, pat, gen in candidates(S, v3, ol)[:8]:
        print("  %.4f %5d  %-30s %s" % (js, b, c, "shelf (pattern %s)" % pat if pat
                                        else ("generic" if gen else "content")))
    print("  ... unweighted lists carry no reader shares: formats and curation pick books by "
          "content, and a genre the catalog is made of looks like the catalog")

    print("\n## share constancy (tried, not used): sd of log(count(b,t) / total(b))")
    total = collections.Counter()
    per = collections.defaultdict(lambda: collections.defaultdict(float))
    for item, raw, w in triples:
        r, c = S.canon(raw)
        if r in ("ok", "shelf_tag"):
            total[item] += w
            per[c][item] += w
    rows = []
    for js, c, b, pat, gen in cands:
        if b >= 200:
            ls = [math.log(w / total[i]) for i, w in per[c].items()]
            m = sum(ls) / len(ls)
            sd = math.sqrt(sum((x - m) ** 2 for x in ls) / len(ls))
            rows.append((sd, c, "shelf" if pat else ("generic" if gen else "content")))
    rows.sort()
    for sd, c, label in rows[:25]:
        print("  %.3f  %-30s %s" % (sd, c, label))
    print("  ... the two kinds interleave: the union file keeps only counts >= 100 for most "
          "books, which censors the low shares")


def section_vocab(S, triples, tags):
    t0 = time.perf_counter()
    v = S.vocab(triples)
    total = time.perf_counter() - t0
    print("\n## default build on goodbooks: %d triples, %.3f s (add + build), build %.3f s"
          % (len(triples), total, v.secs))
    print("  vocabulary %d, shelf tags %d" % (v.size(), len(v.shelf())))
    print("  triples by reason: " + ", ".join("%s %d" % (r, v.rejected(r)) for r in REASONS))
    print("\n  top 30:")
    for i in range(min(30, v.size())):
        print("  %2d  %-30s %5d%s" % (i + 1, v.name(i), v.books(i),
                                      "  generic" if v.generic(i) else ""))
    print("\n  shelf tags by rule (items; top ones per pattern):")
    by = collections.defaultdict(list)
    for i in v.shelf():
        key = "pattern " + i.pattern.decode() if i.pattern else "data rule (js %.4f)" % i.js
        by[key].append((i.books, i.name.decode()))
    for key, lst in sorted(by.items(), key=lambda x: -max(b for b, _ in x[1])):
        lst.sort(reverse=True)
        print("  %-28s %3d subjects: %s" % (key, len(lst),
                                             ", ".join("%s %d" % (n, b) for b, n in lst[:6])))
    print("\n  min_books sweep (vocab_size 1000):")
    for mb in (5, 8, 9, 10, 12, 15, 20):
        print("    min_books %2d -> %d subjects" % (mb, S.vocab(triples, min_books=mb).size()))


def main():
    global DATA
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--top", type=int, default=300)
    ap.add_argument("sections", nargs="*", default=["sources", "plurals", "shelf", "vocab"])
    a = ap.parse_args()
    DATA = a.data
    if not os.path.isdir(a.data):
        sys.exit("no data directory %s (use --data)" % a.data)
    with tempfile.TemporaryDirectory() as tmp:
        S = Subjects(build_library(tmp))
        tags, triples = load_goodbooks(a.data)
        if "sources" in a.sections:
            section_sources(S, [("goodreads tags", triples),
                                ("open library subjects", load_openlibrary(a.data)),
                                ("google books categories", load_google(a.data))], a.top)
        if "plurals" in a.sections:
            section_plurals(S, tags, [(i, t, w) for i, t, w in triples], 10)
        if "shelf" in a.sections:
            section_shelf(S, triples)
        if "vocab" in a.sections:
            section_vocab(S, triples, tags)


if __name__ == "__main__":
    main()
