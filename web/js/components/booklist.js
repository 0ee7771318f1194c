// A list of books as cards (cover, title, author, year, average rating), reporting its
// impressions and clicks (events.js) when given a surface.

import { h, formatRating } from '../dom.js';
import { cover } from './cover.js';
import { trackList } from '../events.js';

export function bookTitle(book) {
  return (book && book.title) || (book && book.isbn13 ? `ISBN ${book.isbn13}` : 'Untitled');
}

export function bookCard(book, extra) {
  const meta = [book.author, book.year].filter(Boolean).join(' · ');
  return h('li', { class: 'card' },
    h('a', { class: 'card-link', href: `/books/${book.id}`, 'data-book': book.id },
      cover(book, 'small'),
      h('span', { class: 'card-title' }, bookTitle(book)),
      meta ? h('span', { class: 'card-meta' }, meta) : null),
    h('span', { class: 'card-rating' },
      book.n_ratings ? `★ ${formatRating(book.avg_rating)} (${book.n_ratings})` : 'No ratings yet'),
    extra || null);
}

// items: [{book, score}] or books. track: {surface, mode, version} or null.
// Returns {el, stop}.
export function bookList(items, { label, track } = {}) {
  const books = items.map((it) => (it && it.book ? it.book : it)).filter(Boolean);
  const ul = h('ul', { class: 'book-grid', 'aria-label': label || null },
    books.map((b) => bookCard(b)));
  const stop = track ? trackList(ul, track) : () => {};
  return { el: ul, stop };
}
