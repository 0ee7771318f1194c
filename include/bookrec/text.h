/* Text utilities for cleaning catalog strings. All work on UTF-8. */
#ifndef BOOKREC_TEXT_H
#define BOOKREC_TEXT_H

#include <stddef.h>

/* 1 when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
int br_utf8_valid(const char *s, size_t len);

/* Converts Windows-1252/latin-1 bytes to UTF-8. out must hold 3*len+1 bytes.
 * Returns the output length. */
size_t br_latin1_to_utf8(const char *in, size_t len, char *out);

/* Decodes HTML entities in place (&amp; &lt; &gt; &quot; &apos; &#39; &nbsp;
 * &#NNN; &#xHH; and the common named Latin-1 letters such as &eacute;).
 * Unknown or malformed entities are left as they are. Returns the new length.
 * &nbsp; becomes a plain space and &shy; vanishes; &#128;-&#159; are read as
 * Windows-1252 (as browsers do). A NUL is written after the text when it
 * got shorter. */
size_t br_html_unescape(char *s, size_t len);

/* Trims ASCII whitespace at both ends and collapses inner runs to one space,
 * in place. Returns the new length (a NUL is written after it when shorter). */
size_t br_text_squash(char *s, size_t len);

/* Match key for titles: lower-case, Latin accents folded to ASCII, "&" -> "and",
 * text in parentheses or brackets removed, a subtitle after ':' or ';' removed,
 * punctuation dropped, a leading article (the, a, an) dropped, spaces collapsed.
 * "The Hunger Games (The Hunger Games, #1)" -> "hunger games".
 * Apostrophes vanish without splitting ("Sorcerer's" -> "sorcerers"), a
 * trailing ", The" is dropped like a leading one, an undecoded "&amp;" counts
 * as "&", bytes that are not UTF-8 are read as Windows-1252, and scripts other
 * than Latin are kept. When the rules would leave nothing ("(Untitled)") the
 * key keeps the bracketed text instead.
 * Writes at most cap-1 bytes, never half a character; returns the length. */
size_t br_title_key(const char *title, char *out, size_t cap);

/* Match key for an author: the last name of the first author, lower-case,
 * accents folded. Handles "First Last", "Last, First", "F. M. Last",
 * "Last Jr.", several authors separated by ',', ';', '&' or " and " (the
 * first is used; "Last, First" is told apart from a list by the word count).
 * "Suzanne Collins" -> "collins"; "Tolkien, J.R.R." -> "tolkien".
 * In effect the key is the last word of the first author; multi-word last
 * names give their last word either way ("Ursula K. Le Guin" and "Le Guin,
 * Ursula K." both give "guin"). Initials and Jr./Sr./II/III are passed over,
 * hyphens and periods split words, text in brackets is ignored.
 * Writes at most cap-1 bytes; returns the length (0 when none). */
size_t br_author_key(const char *author, char *out, size_t cap);

/* Case-insensitive ASCII compare of s with a NUL-terminated literal. */
int br_streq_ci(const char *s, size_t len, const char *lit);

#endif
