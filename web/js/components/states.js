// Loading, empty and error states, the same everywhere. Errors say what happened in
// words (not found, rate limited, server unreachable, ...) and offer a retry when one can
// help.

import { h } from '../dom.js';

export function loading(text = 'Loading…') {
  return h('p', { class: 'state state-loading', role: 'status' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

export function empty(text, action) {
  return h('div', { class: 'state state-empty' }, h('p', {}, text), action || null);
}

export function errorTitle(err) {
  if (!err) return 'Something went wrong';
  if (err.status === 0) return 'The server cannot be reached';
  if (err.status === 429) return 'Too many requests';
  if (err.status === 404) return 'Not found';
  if (err.status === 401) return 'Please log in';
  if (err.status >= 500) return 'The server had a problem';
  return 'That did not work';
}

// An error box (role=alert). retry: a function; shown as a button unless the error
// cannot be fixed by trying again (404, 400...).
export function errorState(err, retry) {
  const retryable = !err || err.status === 0 || err.status === 429 || err.status >= 500;
  const box = h('div', { class: 'state state-error', role: 'alert', 'data-error': err && err.code ? err.code : 'error' },
    h('p', { class: 'state-title' }, errorTitle(err)),
    h('p', {}, (err && err.message) || 'Please try again.'));
  if (retry && retryable) {
    const btn = h('button', { type: 'button', class: 'button' }, 'Try again');
    btn.addEventListener('click', () => {
      btn.disabled = true;
      retry();
    });
    if (err && err.status === 429 && err.retryAfter) {
      btn.disabled = true;
      setTimeout(() => { btn.disabled = false; }, err.retryAfter * 1000);
    }
    box.append(btn);
  }
  return box;
}
