// Previous / next page navigation for numbered pages (search, recommendations).

import { h } from '../dom.js';

export function pager({ page, hasMore, onPage, label = 'Pages' }) {
  if (page <= 1 && !hasMore) return null;
  const prev = h('button', { type: 'button', class: 'button button-secondary', disabled: page <= 1 }, '← Previous');
  const next = h('button', { type: 'button', class: 'button button-secondary', disabled: !hasMore }, 'Next →');
  prev.addEventListener('click', () => onPage(page - 1));
  next.addEventListener('click', () => onPage(page + 1));
  return h('nav', { class: 'pager', 'aria-label': label },
    prev, h('span', { class: 'pager-page', 'aria-current': 'page' }, `Page ${page}`), next);
}
