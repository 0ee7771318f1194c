// Favorite subjects: a combobox suggesting subjects as you type (GET /subjects?q=) and
// the chosen ones as a list of removable chips. Enter picks the highlighted suggestion,
// or the one whose name matches what was typed, or the first one shown.

import { h } from '../dom.js';
import { get } from '../api.js';
import { combobox } from './combobox.js';

const MAX = 32; // the gateway takes at most 32 names per request

export function subjectPicker({ label = 'Favorite subjects', initial = [], onChange, hint } = {}) {
  const chosen = [...initial];
  const chips = h('ul', { class: 'chips', 'aria-label': 'Chosen subjects' });
  const live = h('span', { class: 'visually-hidden', 'aria-live': 'polite' });

  function renderChips() {
    chips.replaceChildren(...chosen.map((name) => {
      const btn = h('button', { type: 'button', class: 'chip-remove', 'aria-label': `Remove ${name}` }, '×');
      btn.addEventListener('click', () => {
        const i = chosen.indexOf(name);
        if (i >= 0) chosen.splice(i, 1);
        renderChips();
        live.textContent = `${name} removed`;
        cb.input.focus();
        if (onChange) onChange([...chosen]);
      });
      return h('li', { class: 'chip' }, h('span', {}, name), btn);
    }));
    chips.hidden = chosen.length === 0;
  }

  function add(name, input) {
    if (!name) return;
    if (!chosen.some((c) => c.toLowerCase() === name.toLowerCase()) && chosen.length < MAX) {
      chosen.push(name);
      renderChips();
      live.textContent = `${name} added`;
      if (onChange) onChange([...chosen]);
    }
    input.value = '';
  }

  const cb = combobox({
    label,
    name: 'subject',
    placeholder: 'Type a subject, e.g. fantasy',
    hint: hint || 'Suggestions appear as you type; press Enter or choose one to add it.',
    fetch: async (q, signal) => {
      const data = await get('/subjects', { q, k: 8 }, signal);
      return (data.items || [])
        .filter((s) => !chosen.some((c) => c.toLowerCase() === s.name.toLowerCase()))
        .map((s) => ({ value: s.name, label: s.name, detail: `${s.books} books` }));
    },
    onPick: (it, input) => add(it.value, input),
    onEnter: (text, input, shown) => {
      const exact = shown.find((it) => it.value.toLowerCase() === text.toLowerCase());
      const it = exact || shown[0];
      if (it) add(it.value, input);
    },
  });

  renderChips();
  const el = h('div', { class: 'subject-picker' }, cb.el, chips, live);
  return { el, input: cb.input, get value() { return [...chosen]; } };
}
