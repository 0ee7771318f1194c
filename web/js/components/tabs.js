// ARIA tabs (WAI-ARIA Authoring Practices, "tabs with automatic activation"): a tablist
// of buttons with a roving tabindex; Left/Right/Home/End move between tabs and select.
// A disabled tab stays focusable (aria-disabled) so it can be found and its reason read
// (aria-describedby), but cannot be selected.

import { h, uid } from '../dom.js';

// tabs: [{id, label, disabled, describedBy}]. Returns {el (tablist), panel, select(id)}.
export function tabs({ label, items, selected, onSelect }) {
  const base = uid('tabs');
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: `${base}-panel`, tabindex: '0' });
  const buttons = items.map((t) => h('button', {
    type: 'button',
    role: 'tab',
    class: 'tab',
    id: `${base}-${t.id}`,
    'data-tab': t.id,
    'aria-controls': panel.id,
    'aria-selected': 'false',
    'aria-disabled': t.disabled ? 'true' : null,
    'aria-describedby': t.describedBy || null,
    tabindex: '-1',
  }, t.label));
  const list = h('div', { class: 'tablist', role: 'tablist', 'aria-label': label }, buttons);
  let current = null;

  function select(id, { focus = false, notify = true } = {}) {
    const i = items.findIndex((t) => t.id === id);
    if (i < 0 || items[i].disabled) return;
    buttons.forEach((b, j) => {
      b.setAttribute('aria-selected', String(i === j));
      b.tabIndex = i === j ? 0 : -1;
    });
    panel.setAttribute('aria-labelledby', buttons[i].id);
    if (focus) buttons[i].focus();
    const changed = current !== id;
    current = id;
    if (notify && changed) onSelect(id);
  }

  list.addEventListener('click', (e) => {
    const b = e.target.closest('[role=tab]');
    if (b) select(b.dataset.tab);
  });
  list.addEventListener('keydown', (e) => {
    const i = buttons.indexOf(document.activeElement);
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % buttons.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + buttons.length) % buttons.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = buttons.length - 1;
    if (j < 0) return;
    e.preventDefault();
    buttons[j].focus();
    if (!items[j].disabled) select(items[j].id);
  });

  // The first enabled tab takes the focus stop until one is selected.
  const first = items.find((t) => !t.disabled);
  if (first) buttons[items.indexOf(first)].tabIndex = 0;
  const initial = items.find((t) => t.id === selected && !t.disabled) ? selected : first && first.id;
  if (initial) select(initial, { notify: false });

  return { el: list, panel, select, get current() { return current; } };
}
