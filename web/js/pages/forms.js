// Pieces shared by the account forms.
import { h } from '../dom.js';

export function field({ id, label, type = 'text', name, autocomplete, hint, required = true, ...rest }) {
  const hintId = hint ? `${id}-hint` : null;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null,
    h('input', { id, name: name || id, type, autocomplete, required, class: 'input', 'aria-describedby': hintId, ...rest }));
}

// A box above the form for the server's answer; show(err) fills and focuses it.
export function formError() {
  const el = h('div', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true });
  return {
    el,
    show(err) {
      el.replaceChildren(h('p', {}, err.message || 'That did not work. Try again.'));
      el.hidden = false;
      el.focus();
    },
    clear() {
      el.hidden = true;
      el.replaceChildren();
    },
  };
}

// Disables the submit button while a request runs.
export async function busy(button, text, fn) {
  const old = button.textContent;
  button.disabled = true;
  button.textContent = text;
  try {
    return await fn();
  } finally {
    button.disabled = false;
    button.textContent = old;
  }
}
