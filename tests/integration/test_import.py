"""bookrec import on small fixtures in the real formats, re-import stability,
aliases, transactions, and (when ../shared/data is present) the real data."""
import pytest

from conftest import FIX, data_dir, import_, query, run


def works(db):
    return dict(query(db, "SELECT work_key, item_idx FROM works"))


def test_bx_original_format(db, tmp_path):
    _, r = import_(db, FIX / "bx_original", tmp_path=tmp_path)
    rej = r["rejected"]
    assert rej["rating_isbn_asin_like"] == 1
    assert rej["rating_isbn_float_mangled"] == 1
    assert rej["rating_out_of_range"] == 1          # 11
    assert rej["rating_not_a_number"] == 1          # "x"
    assert rej["rating_duplicate"] == 1             # user 2 twice
    assert rej["user_id_invalid"] == 1
    assert rej["book_isbn_asin_like"] == 1
    assert rej["rating_isbn_bad_length"] >= 1       # 34542252: padding fails the check
    assert r["cleaned"]["age_implausible_set_null"] == 2  # 244 and 0
    assert r["users"] >= 10
    # Latin-1 converted, entities decoded, \" kept as a quote, case fixed.
    titles = dict(query(db, "SELECT isbn13, title FROM editions"))
    assert titles["9780399135781"] == "The Kitchen God\u2019s Wife"
    authors = dict(query(db, "SELECT isbn13, author FROM editions"))
    assert authors["9780060973124"] == 'Carlo D"Este'
    assert authors["9782070423200"] == "Antoine de Saint-Exup\u00e9ry"
    assert authors["9780671870430"] == "Scott Turow"
    pubs = dict(query(db, "SELECT isbn13, publisher FROM editions"))
    assert pubs["9780393045215"] == "W. W. Norton & Company"
    # Two editions of The Testament (one upper-cased author) form one work,
    # and user 3's two ratings of it merge (explicit 8 wins over implicit 0).
    rows = query(db, "SELECT DISTINCT item_idx FROM editions WHERE isbn13 IN "
                     "('9780440234746', '9780440225706')")
    assert len(rows) == 1
    item = rows[0][0]
    assert query(db, "SELECT rating FROM interactions i JOIN users u ON u.user_id = i.user_id "
                     "WHERE u.external_id = '3' AND item_idx = ?", item) == [(8,)]
    # Rated ISBNs without a book row are kept, flagged as works without title.
    assert query(db, "SELECT has_title FROM works w JOIN editions e ON e.item_idx = w.item_idx "
                     "WHERE e.isbn13 = '9780345451040'") == [(0,)]
    # Ages: NULL outside [5, 100]; country from the location; n/a is no country.
    u = {row[0]: row[1:] for row in query(db, "SELECT external_id, age, age_group, country "
                                              "FROM users WHERE source = 'bx'")}
    assert u["2"] == (18, "18-24", "usa")
    assert u["5"][0] is None and u["7"][0] is None
    assert u["9"][2] is None
    # Implicit zeros are kept.
    assert query(db, "SELECT COUNT(*) FROM interactions WHERE rating = 0")[0][0] >= 3


def test_reupload_and_multiline_location(db, tmp_path):
    _, r = import_(db, FIX / "bx_reupload", tmp_path=tmp_path)
    assert r["ratings_kept"] == 3
    loc = query(db, "SELECT location, country, age FROM users WHERE external_id = '13'")
    assert loc[0][1] == "canada" and loc[0][2] is None  # 150 is implausible


def test_reimport_is_stable_and_incremental(db, tmp_path):
    import_(db, FIX / "bx_original", tmp_path=tmp_path)
    before = works(db)
    inter = query(db, "SELECT user_id, item_idx, rating FROM interactions ORDER BY 1, 2")
    users = query(db, "SELECT user_id, source, external_id FROM users ORDER BY 1")
    import_(db, FIX / "bx_original", tmp_path=tmp_path)
    assert works(db) == before
    assert query(db, "SELECT user_id, item_idx, rating FROM interactions ORDER BY 1, 2") == inter
    assert query(db, "SELECT user_id, source, external_id FROM users ORDER BY 1") == users
    # New data gets new indices; nothing is renumbered.
    import_(db, FIX / "bx_reupload", tmp_path=tmp_path)
    after = works(db)
    assert all(after[k] == v for k, v in before.items())
    assert max(after.values()) > max(before.values())
    # The same data into a fresh database gives the same indices.
    db2 = tmp_path / "other.db"
    import_(db2, FIX / "bx_original", tmp_path=tmp_path)
    assert works(db2) == before


def test_new_metadata_merges_works_into_an_alias(db, tmp_path):
    import_(db, FIX / "bx_original", tmp_path=tmp_path)
    testament = query(db, "SELECT item_idx FROM editions WHERE isbn13 = '9780440234746'")[0][0]
    grisham_ratings = query(db, "SELECT COUNT(*) FROM interactions WHERE item_idx = ?",
                            testament)[0][0]
    # Metadata that lists both editions under one work of its own.
    _, r = import_(db, f"generic-books={FIX / 'merge' / 'books.csv'}", tmp_path=tmp_path)
    new_item = query(db, "SELECT item_idx FROM editions WHERE isbn13 = '9780440234746'")[0][0]
    assert new_item != testament
    assert query(db, "SELECT item_idx FROM work_aliases WHERE alias_idx = ?",
                 testament) == [(new_item,)]
    assert query(db, "SELECT COUNT(*) FROM works WHERE item_idx = ?", testament) == [(0,)]
    assert query(db, "SELECT COUNT(*) FROM interactions WHERE item_idx = ?",
                 new_item)[0][0] == grisham_ratings
    assert r["work_aliases"] == 1
    # A re-import of the original, weaker evidence does not undo the merge.
    import_(db, FIX / "bx_original", tmp_path=tmp_path)
    assert query(db, "SELECT item_idx FROM editions WHERE isbn13 = '9780440234746'")[0][0] == new_item


def test_goodbooks_tags_and_isbn_matching(db, tmp_path):
    _, r = import_(db, FIX / "goodbooks" / "books.csv", FIX / "goodbooks" / "tags.csv",
                   FIX / "goodbooks" / "book_tags.csv", FIX / "bx_original", tmp_path=tmp_path)
    # BX's The Testament (zero-stripped goodbooks ISBN 440234743) joins goodreads work 9000,
    # its other edition by title + author; Beloved matches by title + author.
    gr = query(db, "SELECT w.item_idx FROM works w WHERE work_key = 'goodreads:9000'")[0][0]
    kinds = dict(query(db, "SELECT isbn13, match_kind FROM editions WHERE item_idx = ?", gr))
    assert kinds["9780440234746"] == "isbn"
    assert kinds["9780440225706"] == "title_author"
    beloved = query(db, "SELECT item_idx FROM works WHERE work_key = 'goodreads:9001'")[0][0]
    assert query(db, "SELECT match_kind FROM editions WHERE isbn13 = '9780452264465'") == \
        [("title_author",)]
    assert query(db, "SELECT item_idx FROM editions WHERE isbn13 = '9780452264465'") == [(beloved,)]
    assert r["editions_matched_to_metadata"] >= 3
    assert r["rejected"]["tag_unknown_book"] == 1
    assert r["rejected"]["tag_unknown_tag_id"] == 1
    # Goodbooks' placeholder cover is not a cover.
    assert query(db, "SELECT image_url FROM works WHERE item_idx = ?", beloved) == [(None,)]


def test_generic_format_and_open_library_dump(db, tmp_path):
    _, r = import_(db, f"generic-books={FIX / 'generic' / 'books.csv'}",
                   f"generic-subjects={FIX / 'generic' / 'book_subjects.csv'}",
                   f"generic-ratings={FIX / 'generic' / 'ratings.csv'}",
                   f"ol-dump={FIX / 'ol_dump.txt'}", tmp_path=tmp_path)
    lotr = query(db, "SELECT item_idx FROM works WHERE work_key = 'generic:lotr1'")[0][0]
    assert {row[0] for row in query(db, "SELECT isbn13 FROM editions WHERE item_idx = ?", lotr)} \
        == {"9780261103573", "9780261102385"}
    ts = query(db, "SELECT i.ts FROM interactions i JOIN users u ON u.user_id = i.user_id "
                   "WHERE u.source = 'generic' AND u.external_id = 'alice' AND i.item_idx = ?",
               lotr)
    assert ts == [(1700000000,)]
    assert r["rejected"]["rating_out_of_range"] == 1
    assert r["rejected"]["rating_isbn_bad_characters"] + \
        r["rejected"].get("rating_isbn_bad_length", 0) >= 1
    ol = query(db, "SELECT item_idx, description FROM works WHERE work_key = 'openlibrary:OL27448W'")
    assert ol and ol[0][1] == "An epic."
    eds = {row[0] for row in query(db, "SELECT isbn13 FROM editions WHERE item_idx = ?", ol[0][0])}
    assert eds == {"9780618640157", "9780395193952"}
    assert r["rejected"]["ol_dump_bad_json"] == 1
    assert r["rejected"]["ol_dump_other_type"] == 1
    assert r["rejected"]["ol_dump_edition_without_work"] == 1


def test_failed_import_leaves_database_unchanged(db, tmp_path):
    import_(db, FIX / "bx_original", tmp_path=tmp_path)
    snap = [query(db, f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ["works", "editions", "users", "interactions", "imports"]]
    bad = tmp_path / "weird.csv"
    bad.write_text("a,b,c\nfoo bar,1,2\n")
    p, r = import_(db, FIX / "bx_reupload", bad, tmp_path=tmp_path, check=False)
    assert p.returncode != 0 and "unknown format" in p.stderr and "unchanged" in p.stderr
    assert [query(db, f"SELECT COUNT(*) FROM {t}")[0][0]
            for t in ["works", "editions", "users", "interactions", "imports"]] == snap
    p, _ = import_(db, tmp_path / "missing.csv", tmp_path=tmp_path, check=False)
    assert p.returncode != 0 and "no such file" in p.stderr


def test_row_limit_is_enforced(db, tmp_path):
    p = run("--set", "import.max_rows=5", "import", "--db", db, FIX / "bx_original", check=False)
    assert p.returncode != 0 and "import.max_rows" in p.stderr


@pytest.mark.skipif(data_dir() is None, reason="../shared/data not present")
def test_real_data_import(db, tmp_path):
    d = data_dir()
    _, r = import_(db, d / "bookcrossing", d / "goodbooks10k", d / "descriptions",
                   tmp_path=tmp_path)
    for key in ["users", "works", "editions", "ratings_kept", "rejected",
                "editions_matched_to_metadata", "works_with_subjects",
                "ratings_on_works_with_subjects", "subject_vocab_size", "top_subjects"]:
        assert key in r, key
    assert r["users"] == 278858
    assert r["editions_matched_to_metadata"] >= 6500
    # Book-Crossing editions onto goodbooks-10k works (PROVENANCE.md measured 6,649 onto
    # 3,485 works, 34% of the ratings, with a similar title + author rule).
    assert r["bx_editions_matched_to_goodbooks"] >= 6500
    assert r["goodbooks_works_matched_by_bx"] >= 3400
    assert r["ratings_on_goodbooks_works"] >= 150000
    assert r["ratings_on_works_with_subjects"] >= 150000
    assert 800 <= r["subject_vocab_size"] <= 1000
    top = [s["subject"] for s in r["top_subjects"]]
    assert len(top) == 30
    for shelf in ["to read", "to-read", "currently reading", "favorites", "favourites", "owned",
                  "books i own", "kindle", "ebook", "library", "default", "wish list"]:
        assert shelf not in top, shelf
    assert {"fantasy", "romance"} <= set(top)
    assert sum(r["rejected"].values()) > 0
