// Home: what bookrec is, a search box, and the books most read right now (GET /popular).
import { h } from '../dom.js';
import { get } from '../api.js';
import { config } from '../config.js';
import { session } from '../session.js';
import { navigate } from '../router.js';
import { bookList } from '../components/booklist.js';
import { loading, empty, errorState } from '../components/states.js';

export function searchForm({ value = '', label = 'Search books' } = {}) {
  const input = h('input', { id: 'home-q', name: 'q', type: 'search', class: 'input', value, required: true, placeholder: 'Title, author or topic', autocomplete: 'off' });
  const form = h('form', { class: 'search-form', role: 'search', action: '/search' },
    h('label', { for: 'home-q', class: 'visually-hidden' }, label),
    input,
    h('button', { type: 'submit', class: 'button' }, 'Search'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (q) navigate(`/search?q=${encodeURIComponent(q)}`);
  });
  return form;
}

export async function homePage({ main, signal }) {
  const account = session.account;
  const intro = h('section', { class: 'hero', 'aria-labelledby': 'home-title' },
    h('h1', { id: 'home-title' }, 'Find your next book'),
    h('p', { class: 'lead' },
      'bookrec recommends books from what readers like you have rated. ',
      'New here? Pick a few favorite subjects and you get suggestions at once; ',
      'rate a handful of books and they start to follow your own taste.'),
    searchForm(),
    account
      ? h('p', {}, h('a', { href: '/profile', class: 'button' }, 'Your recommendations'))
      : h('p', { class: 'cta' },
        h('a', { href: '/signup', class: 'button' }, 'Sign up: it takes a minute'), ' ',
        h('a', { href: '/login' }, 'or log in')));
  const listBox = h('div', { class: 'list-box' }, loading('Loading popular books…'));
  const popular = h('section', { 'aria-labelledby': 'popular-title' },
    h('h2', { id: 'popular-title' }, 'Popular with readers'), listBox);
  main.append(intro, popular);

  let stop = () => {};
  async function load() {
    listBox.replaceChildren(loading('Loading popular books…'));
    try {
      const data = await get('/popular', { page_size: config.page_size }, signal);
      if (!data.items.length) {
        listBox.replaceChildren(empty('No books yet: the catalog is empty.'));
        return;
      }
      const list = bookList(data.items, { label: 'Popular books', track: { surface: 'recommendations', mode: 'popular', version: data.version } });
      stop = list.stop;
      listBox.replaceChildren(list.el);
    } catch (e) {
      if (e.name === 'AbortError') return;
      listBox.replaceChildren(errorState(e, load));
    }
  }
  load(); // the page is usable (search) while the list loads
  return () => stop();
}
