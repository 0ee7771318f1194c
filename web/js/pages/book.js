// A book: cover, title, author, year, subjects, average rating and count, the reader's
// own rating (1-10, mark as read, remove), and similar books with tabs ALS / Subject /
// Hybrid and a weight slider for hybrid.
import { h, debounce, formatRating, plural, announce } from '../dom.js';
import { get, post, del } from '../api.js';
import { config } from '../config.js';
import { session } from '../session.js';
import { cover } from '../components/cover.js';
import { bookList, bookTitle } from '../components/booklist.js';
import { tabs } from '../components/tabs.js';
import { loading, empty, errorState } from '../components/states.js';

const MODES = [
  { id: 'als', label: 'ALS', help: 'Read by the same readers (collaborative filtering).' },
  { id: 'subject', label: 'Subject', help: 'About the same subjects.' },
  { id: 'hybrid', label: 'Hybrid', help: 'Both, weighted by the slider.' },
];

function myRatingSection(book) {
  const status = h('p', { class: 'status-text', role: 'status' });
  const box = h('div', {});
  let mine = book.my_rating; // null, or {rating: 1-10 or null (read), ts}

  function summary() {
    if (!mine) return 'You have not rated this book.';
    return mine.rating ? `Your rating: ${mine.rating} out of 10.` : 'You marked this book as read.';
  }

  async function send(fn, done) {
    for (const b of box.querySelectorAll('button')) b.disabled = true;
    try {
      await fn();
      status.textContent = done;
      announce(done);
    } catch (e) {
      status.textContent = `Not saved: ${e.message}`;
    }
    render();
  }

  function render() {
    if (!session.account) {
      box.replaceChildren(h('p', {}, h('a', { href: `/login?next=/books/${book.id}` }, 'Log in'), ' to rate this book.'));
      return;
    }
    const stars = [];
    for (let i = 1; i <= 10; i++) {
      const b = h('button', {
        type: 'button', class: 'rate-button', 'aria-pressed': String(!!mine && mine.rating === i),
        'aria-label': `Rate ${i} out of 10`, 'data-rating': i,
      }, String(i));
      b.addEventListener('click', () => send(async () => {
        await post('/ratings', { book: book.id, rating: i });
        mine = { rating: i, ts: Date.now() / 1000 };
      }, `Rated ${i} out of 10.`));
      stars.push(b);
    }
    const read = h('button', { type: 'button', class: 'button button-secondary', 'aria-pressed': String(!!mine && !mine.rating) }, 'Mark as read');
    read.addEventListener('click', () => send(async () => {
      await post('/ratings', { book: book.id });
      mine = { rating: null, ts: Date.now() / 1000 };
    }, 'Marked as read.'));
    const remove = h('button', { type: 'button', class: 'button button-secondary', disabled: !mine }, 'Remove my rating');
    remove.addEventListener('click', () => send(async () => {
      await del(`/ratings/${book.id}`);
      mine = null;
    }, 'Rating removed.'));
    box.replaceChildren(
      h('p', { class: 'my-rating-summary', 'data-testid': 'my-rating' }, summary()),
      h('div', { class: 'rate-group', role: 'group', 'aria-label': 'Your rating from 1 (poor) to 10 (excellent)' }, stars),
      h('div', { class: 'rate-actions' }, read, remove));
  }
  render();
  return h('section', { class: 'panel', 'aria-labelledby': 'my-rating-title' },
    h('h2', { id: 'my-rating-title' }, 'Your rating'), box, status);
}

function similarSection(book, signal) {
  let w = 0.5;
  let stop = () => {};
  let seq = 0;
  const box = h('div', { class: 'list-box', 'aria-live': 'polite' });
  const help = h('p', { class: 'hint' });
  const slider = h('input', { id: 'sim-w', type: 'range', min: '0', max: '1', step: '0.1', value: String(w), class: 'slider', 'aria-describedby': 'sim-w-help' });
  const out = h('output', { for: 'sim-w', class: 'slider-value' });
  const sliderBox = h('div', { class: 'slider-field' },
    h('label', { for: 'sim-w' }, 'Readers ↔ subjects'),
    h('div', { class: 'slider-row' }, h('span', { 'aria-hidden': 'true' }, 'Readers'), slider, h('span', { 'aria-hidden': 'true' }, 'Subjects'), out),
    h('p', { id: 'sim-w-help', class: 'hint' }, 'The weight of subject similarity against what the same readers read.'));
  function sliderText() {
    const pct = Math.round(w * 100);
    const text = `${pct}% subjects, ${100 - pct}% readers`;
    slider.setAttribute('aria-valuetext', text);
    out.textContent = text;
  }
  sliderText();

  const t = tabs({ label: 'Kind of similarity', items: MODES, selected: 'als', onSelect: () => load() });
  t.panel.append(help, sliderBox, box);

  async function load() {
    const mine = ++seq;
    const mode = t.current;
    help.textContent = MODES.find((m) => m.id === mode).help;
    sliderBox.hidden = mode !== 'hybrid';
    stop();
    stop = () => {};
    box.setAttribute('aria-busy', 'true');
    if (!box.firstChild || box.firstChild.classList.contains('state')) box.replaceChildren(loading('Loading similar books…'));
    try {
      const data = await get(`/books/${book.id}/similar`, { mode, w: mode === 'hybrid' ? w : null, k: config.page_size }, signal);
      if (mine !== seq) return;
      box.removeAttribute('aria-busy');
      box.dataset.mode = data.mode;
      if (!data.items.length) {
        box.replaceChildren(empty(data.reason ? `No similar books: ${data.reason}.` : 'No similar books found.'));
        return;
      }
      const list = bookList(data.items, { label: `Similar books (${mode})`, track: { surface: 'similar', mode: data.mode, version: data.version } });
      stop = list.stop;
      box.replaceChildren(list.el);
    } catch (e) {
      if (e.name === 'AbortError' || mine !== seq) return;
      box.removeAttribute('aria-busy');
      box.replaceChildren(errorState(e, load));
    }
  }
  const reload = debounce(load, 250);
  slider.addEventListener('input', () => {
    w = Number(slider.value);
    sliderText();
    reload();
  });
  load();
  return {
    el: h('section', { class: 'panel', 'aria-labelledby': 'similar-title' }, h('h2', { id: 'similar-title' }, 'Similar books'), t.el, t.panel),
    stop: () => { stop(); reload.cancel(); },
  };
}

export async function bookPage({ main, params, signal }) {
  const id = Number(params[0]);
  let book;
  try {
    book = (await get(`/books/${id}`, null, signal)).book;
  } catch (e) {
    if (e.status === 404 || e.status === 400) {
      main.append(h('h1', {}, 'Book not found'),
        h('div', { class: 'state state-empty', 'data-error': 'not_found' },
          h('p', {}, `There is no book ${id} in the catalog.`),
          h('p', {}, h('a', { href: '/search' }, 'Search for a book'), ' or ', h('a', { href: '/' }, 'see what is popular'), '.')));
      return undefined;
    }
    throw e;
  }
  const facts = [];
  const fact = (k, v) => { if (v !== null && v !== undefined && v !== '') facts.push(h('dt', {}, k), h('dd', {}, String(v))); };
  fact('Author', book.author);
  fact('Year', book.year);
  fact('Publisher', book.publisher);
  fact('Pages', book.pages);
  fact('Language', book.language);
  fact('ISBN', book.isbn13);
  const rating = book.n_ratings
    ? h('p', { class: 'avg-rating', 'data-testid': 'avg-rating' },
      h('span', { class: 'avg-value' }, `★ ${formatRating(book.avg_rating)}`), ' out of 10 from ', plural(book.n_ratings, 'rating'),
      book.n_interactions > book.n_ratings ? ` (${plural(book.n_interactions, 'reader')} in all)` : '')
    : h('p', { class: 'avg-rating', 'data-testid': 'avg-rating' }, 'No ratings yet.');
  const subjects = (book.subjects || []).length
    ? h('ul', { class: 'tags', 'aria-label': 'Subjects' }, book.subjects.map((s) => h('li', {}, h('a', { class: 'tag', href: `/search?q=${encodeURIComponent(s)}` }, s))))
    : null;
  const desc = book.description
    ? h('details', { class: 'description', open: book.description.length < 600 },
      h('summary', {}, 'Description'), h('p', {}, book.description))
    : null;
  const sim = similarSection(book, signal);
  main.append(
    h('article', { class: 'book', 'aria-labelledby': 'book-title' },
      h('div', { class: 'book-head' },
        cover(book, 'large'),
        h('div', { class: 'book-info' },
          h('h1', { id: 'book-title' }, bookTitle(book)),
          book.author ? h('p', { class: 'byline' }, `by ${book.author}`) : null,
          rating,
          subjects,
          h('dl', { class: 'details' }, facts))),
      desc,
      myRatingSection(book)),
    sim.el);
  return () => sim.stop();
}
