// Shared by the browser tests and the screenshot script: Debian's chromium driven by
// playwright-core, pages that cannot reach any host but the server under test, and a
// record of console errors and failed requests of our own origin.
import { chromium } from 'playwright-core';

export const BASE = process.env.BOOKREC_URL || 'http://127.0.0.1:8080';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// One browser per run. chromium.launch gives it a fresh temporary profile
// (--user-data-dir), removed when the browser closes; each test takes a new context
// (its own cookies and storage).
export async function launch() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const newContext = (opts = {}) => browser.newContext({
    viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC', ...opts,
  });
  return { browser, newContext, close: () => browser.close().catch(() => {}) };
}

// Instruments a page: requests to any other origin are aborted (and counted), console
// errors and uncaught exceptions from our origin are collected in page.problems.
// allow(text, url) may excuse an expected one (a 404 the test asked for); so may
// page.expected, a list of regular expressions matched against "text url" (for a step
// that fails on purpose).
export function instrument(page, { allow = () => false } = {}) {
  const origin = new URL(BASE).origin;
  page.problems = [];
  page.expected = [];
  page.blocked = [];
  page.events = [];
  page.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(`${origin}/`) || u === origin || u.startsWith('data:')) return route.continue();
    page.blocked.push(u);
    return route.abort('blockedbyclient');
  });
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const loc = msg.location() || {};
    const url = loc.url || '';
    // errors about a blocked external resource (a cover image) are the test's doing
    if (url && !url.startsWith(origin)) return;
    if (allow(msg.text(), url)) return;
    if (page.expected.some((re) => re.test(`${msg.text()} ${url}`))) return;
    page.problems.push(`console error: ${msg.text()} (${url}:${loc.lineNumber})`);
  });
  page.on('pageerror', (err) => page.problems.push(`uncaught: ${err.message}`));
  page.on('request', (req) => {
    if (req.method() === 'POST' && req.url() === `${origin}/api/v1/events`) {
      try { page.events.push(JSON.parse(req.postData() || '{}')); } catch { /* ignore */ }
    }
  });
  return page;
}
