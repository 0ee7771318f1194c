// Client-side routing with the History API. The gateway answers every extensionless path
// that is not a file with index.html, so /books/12 or /profile can be loaded directly.
// Internal links are plain <a href> elements (they work with the keyboard, middle-click
// and without this script); clicks on them are intercepted here. Each navigation aborts
// the previous page's requests (AbortSignal), renders the new page into <main>, moves the
// focus to its heading and announces the new title.

import { announce } from './dom.js';

const routes = [];
let current = null; // {controller, cleanup}
let mainEl = null;
let notFoundPage = null;
let errorPage = null;
let firstRender = true;

export function route(pattern, page) {
  routes.push({ pattern, page });
}

export function setFallbacks(notFound, onError) {
  notFoundPage = notFound;
  errorPage = onError;
}

export function navigate(to, { replace = false } = {}) {
  const u = new URL(to, location.origin);
  const same = u.pathname + u.search === location.pathname + location.search;
  if (replace || same) history.replaceState(null, '', u.pathname + u.search + u.hash);
  else history.pushState(null, '', u.pathname + u.search + u.hash);
  return render();
}

// Updates the query string of the current page without rendering it again (search
// pages keep their state in the URL, so reload and back work).
export function setQuery(params, { replace = false } = {}) {
  const u = new URL(location.href);
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') u.searchParams.delete(k);
    else u.searchParams.set(k, String(v));
  }
  if (replace) history.replaceState(null, '', u.pathname + u.search);
  else history.pushState(null, '', u.pathname + u.search);
}

function match(pathname) {
  for (const r of routes) {
    const m = r.pattern.exec(pathname);
    if (m) return { page: r.page, params: m.slice(1) };
  }
  return { page: notFoundPage, params: [] };
}

export async function render() {
  if (current) {
    current.controller.abort();
    if (typeof current.cleanup === 'function') current.cleanup();
  }
  const controller = new AbortController();
  const me = { controller, cleanup: null };
  current = me;
  const { page, params } = match(location.pathname);
  const main = mainEl;
  main.replaceChildren();
  main.setAttribute('aria-busy', 'true');
  const ctx = {
    main,
    params,
    query: new URLSearchParams(location.search),
    signal: controller.signal,
  };
  try {
    me.cleanup = await page(ctx);
  } catch (e) {
    if (controller.signal.aborted || (e && e.name === 'AbortError')) return;
    if (current === me) errorPage(ctx, e);
  }
  if (current !== me) return;
  main.removeAttribute('aria-busy');
  document.dispatchEvent(new CustomEvent('bookrec:navigated'));
  const heading = main.querySelector('h1');
  document.title = heading ? `${heading.textContent} · bookrec` : 'bookrec';
  // A fresh page load starts at the top with the browser's own focus; after a client-side
  // navigation the focus moves to the new heading, as a page load would announce it.
  const first = firstRender;
  firstRender = false;
  if (first) return;
  if (heading) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
  announce(document.title);
}

function onClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || u.pathname.startsWith('/api/')) return;
  if (u.pathname === location.pathname && u.search === location.search && u.hash) return;
  e.preventDefault();
  navigate(u.pathname + u.search + u.hash);
}

export function startRouter(main) {
  mainEl = main;
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render());
  return render();
}
