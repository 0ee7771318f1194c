// Impressions and clicks of the book lists (recommendations, similar, search), reported
// to POST /api/v1/events for click-through rates.
//
// An impression is a book that was actually on screen (at least half of its card visible,
// IntersectionObserver), reported once per list rendering; a click is reported when the
// reader follows a book's link. Reports go one at a time from a bounded queue with
// fetch keepalive (so a click survives the navigation it causes); they are best-effort:
// a failed report is dropped and never disturbs the page.

import { api } from './api.js';

const MAX_QUEUE = 200;
const queue = [];
let sending = false;

async function pump() {
  if (sending) return;
  sending = true;
  while (queue.length) {
    const ev = queue.shift();
    try {
      await api('POST', '/events', { body: ev, keepalive: true });
    } catch {
      // best effort: dropped
    }
  }
  sending = false;
}

export function report(ev) {
  const body = { type: ev.type, surface: ev.surface, book: ev.book };
  if (ev.mode) body.mode = ev.mode;
  if (ev.version) body.version = ev.version;
  if (queue.length >= MAX_QUEUE) return;
  queue.push(body);
  pump();
}

// Watches a rendered list: the links a[data-book] inside root. Returns a stop function.
export function trackList(root, { surface, mode, version }) {
  const seen = new Set();
  let io = null;
  if ('IntersectionObserver' in window) {
    io = new IntersectionObserver((entries) => {
      for (const en of entries) {
        if (!en.isIntersecting) continue;
        const book = Number(en.target.dataset.book);
        io.unobserve(en.target);
        if (seen.has(book)) continue;
        seen.add(book);
        report({ type: 'impression', surface, mode, version, book });
      }
    }, { threshold: 0.5 });
    for (const el of root.querySelectorAll('a[data-book]')) io.observe(el);
  }
  const onClick = (e) => {
    const a = e.target.closest && e.target.closest('a[data-book]');
    if (!a || !root.contains(a)) return;
    report({ type: 'click', surface, mode, version, book: Number(a.dataset.book) });
  };
  root.addEventListener('click', onClick);
  return () => {
    if (io) io.disconnect();
    root.removeEventListener('click', onClick);
  };
}
