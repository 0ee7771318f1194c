// Any path the UI does not know.
import { h } from '../dom.js';

export async function notFoundPage({ main }) {
  main.append(
    h('h1', {}, 'Page not found'),
    h('div', { class: 'state state-empty' },
      h('p', {}, 'There is no page at this address.'),
      h('p', {}, h('a', { href: '/' }, 'Go to the home page'), ' or ', h('a', { href: '/search' }, 'search for a book'), '.')));
}
