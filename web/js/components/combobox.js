// An editable combobox with a list of suggestions (WAI-ARIA "combobox with listbox
// popup, list autocomplete"): suggestions are fetched as the reader types (debounced,
// stale answers dropped); Down/Up move through them, Enter picks, Escape closes. The
// input keeps the focus throughout (aria-activedescendant).

import { h, uid, debounce } from '../dom.js';

// fetch(q, signal) -> [{value, label, detail}]; onPick(item, input); onEnter(text, input,
// shownItems) when Enter is pressed with no suggestion highlighted (optional; without
// it Enter does what it does in the form).
export function combobox({ label, name, placeholder, fetch, onPick, onEnter, minChars = 1, value = '', hint, type = 'text' }) {
  const id = uid('cb');
  const listId = `${id}-list`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', {
    id, name, type, value, placeholder, autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
    'aria-describedby': hintId, class: 'input',
  });
  const list = h('ul', { id: listId, role: 'listbox', class: 'suggestions', 'aria-label': `${label} suggestions`, hidden: true });
  const status = h('span', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
  const el = h('div', { class: 'field combobox' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('div', { class: 'combobox-wrap' }, input, list),
    status);
  let items = [];
  let active = -1;
  let controller = null;
  let seq = 0;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    items = [];
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  }

  function highlight(i) {
    active = i;
    [...list.children].forEach((li, j) => li.setAttribute('aria-selected', String(i === j)));
    if (i >= 0) {
      input.setAttribute('aria-activedescendant', list.children[i].id);
      list.children[i].scrollIntoView({ block: 'nearest' });
    } else {
      input.removeAttribute('aria-activedescendant');
    }
  }

  function pick(i) {
    const it = items[i];
    close();
    if (it) onPick(it, input);
  }

  function show(found) {
    items = found;
    list.replaceChildren(...found.map((it, i) => {
      const li = h('li', { id: `${id}-opt-${i}`, role: 'option', class: 'suggestion', 'aria-selected': 'false' },
        h('span', {}, it.label), it.detail ? h('span', { class: 'suggestion-detail' }, it.detail) : null);
      // mousedown, not click: the input must not lose the focus first
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        pick(i);
      });
      return li;
    }));
    list.hidden = found.length === 0;
    input.setAttribute('aria-expanded', String(found.length > 0));
    active = -1;
    status.textContent = found.length ? `${found.length} suggestion${found.length === 1 ? '' : 's'}` : '';
  }

  const lookup = debounce(async () => {
    const q = input.value.trim();
    if (controller) controller.abort();
    if (q.length < minChars) {
      close();
      return;
    }
    controller = new AbortController();
    const mine = ++seq;
    try {
      const found = await fetch(q, controller.signal);
      if (mine === seq && document.activeElement === input) show(found || []);
    } catch {
      if (mine === seq) close(); // suggestions are a convenience: no error box
    }
  }, 180);

  input.addEventListener('input', lookup);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowDown' && items.length) {
      e.preventDefault();
      highlight((active + 1) % items.length);
    } else if (e.key === 'ArrowUp' && items.length) {
      e.preventDefault();
      highlight(active <= 0 ? items.length - 1 : active - 1);
    } else if (e.key === 'Enter') {
      if (active >= 0) {
        e.preventDefault();
        pick(active);
      } else if (onEnter) {
        e.preventDefault();
        lookup.cancel();
        if (controller) controller.abort();
        const shown = items;
        close();
        onEnter(input.value.trim(), input, shown);
      }
    } else if (e.key === 'Escape') {
      if (!list.hidden) {
        e.preventDefault();
        close();
      }
    }
  });
  input.addEventListener('blur', () => setTimeout(close, 100));

  return { el, input, close };
}
