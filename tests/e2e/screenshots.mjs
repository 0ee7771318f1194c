// `make screenshots`: a screenshot of each page of the web UI into docs/screenshots/
// (desktop 1280x800, and phone 390x844 for the home, book and profile pages), taken
// against the server tests/e2e/run.sh starts. Cover images stay blocked (as in the
// tests), so covers are the generated placeholders and the pictures are reproducible.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launch, instrument, BASE } from './lib.mjs';

const OUT = process.argv[2] || 'docs/screenshots';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
mkdirSync(OUT, { recursive: true });

const b = await launch();
const problems = [];

async function page(viewport) {
  const ctx = await b.newContext({ viewport, deviceScaleFactor: 1, isMobile: viewport === PHONE, hasTouch: viewport === PHONE });
  const p = instrument(await ctx.newPage());
  p.setDefaultTimeout(20000);
  return p;
}

// Waits for the page and its lists, drops the focus ring of the router, then shoots.
async function shot(p, name, { full = false } = {}) {
  await p.waitForSelector('#main h1');
  await p.waitForFunction(() => !document.querySelector('#main [aria-busy]') && !document.querySelector('#main .state-loading'));
  await p.evaluate(() => document.activeElement && document.activeElement.blur());
  await p.waitForTimeout(300);
  await p.screenshot({ path: join(OUT, `${name}.png`), fullPage: full });
  problems.push(...p.problems.map((x) => `${name}: ${x}`));
  p.problems.length = 0;
  console.log(`screenshots: ${name}.png`);
}

async function go(p, path) {
  await p.goto(`${BASE}${path}`);
}

try {
  const d = await page(DESKTOP);
  await go(d, '/');
  await shot(d, 'home-desktop');
  const top = await d.evaluate(async () => (await (await fetch('/api/v1/popular?page_size=20')).json()).items.map((it) => it.book.id));
  const subjects = await d.evaluate(async () => {
    const has = async (n) => (await (await fetch(`/api/v1/subjects?q=${n}&k=1`)).json()).items.some((s) => s.name === n);
    if (await has('fantasy') && await has('mystery')) return ['fantasy', 'mystery'];
    return (await (await fetch('/api/v1/subjects?k=3')).json()).items.slice(1).map((s) => s.name);
  });

  await go(d, '/signup');
  await d.fill('#signup-username', 'reader');
  await d.fill('#signup-email', 'reader@example.org');
  await d.fill('#signup-password', 'a long passphrase');
  const subj = d.locator('input[role=combobox][name=subject]');
  await subj.pressSequentially(subjects[0].slice(0, 5), { delay: 20 });
  await d.waitForSelector('[role=listbox]:not([hidden]) [role=option]');
  await subj.press('ArrowDown');
  await subj.press('Enter');
  await subj.pressSequentially(subjects[1].slice(0, 4), { delay: 20 });
  await d.waitForSelector('[role=listbox]:not([hidden]) [role=option]');
  await d.waitForTimeout(300);
  await d.screenshot({ path: join(OUT, 'signup.png') }); // with the suggestions open
  console.log('screenshots: signup.png');
  await subj.press('ArrowDown');
  await subj.press('Enter');
  await d.click('button:has-text("Create account")');
  await d.waitForURL(`${BASE}/profile`);
  await shot(d, 'profile-cold', { full: true });

  // five ratings through the API, as the book page would send them
  await d.evaluate(async (ids) => {
    for (const [i, book] of ids.entries()) {
      await fetch('/api/v1/ratings', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': localStorage.getItem('bookrec.csrf') },
        body: JSON.stringify({ book, rating: 6 + (i % 5) }),
      });
    }
  }, top.slice(0, 5));
  await go(d, '/profile');
  await shot(d, 'profile-behavioral', { full: true });

  await go(d, `/books/${top[1]}`);
  await d.waitForSelector('section[aria-labelledby="similar-title"] .book-grid');
  await shot(d, 'book', { full: true });

  await go(d, '/search?q=harry%20potter');
  await shot(d, 'search');

  d.expected.push(/status of 404 .*\/api\/v1\/books\/999999999$/); // asked for
  await go(d, '/books/999999999');
  await shot(d, 'not-found');

  await d.route('**/api/v1/popular*', (r) => r.abort('connectionrefused'));
  d.expected.push(/ERR_CONNECTION_REFUSED .*\/api\/v1\/popular\?/); // asked for
  await go(d, '/');
  await d.waitForSelector('[role=alert]');
  await shot(d, 'error-unreachable');
  await d.unroute('**/api/v1/popular*');

  await d.click('nav button:has-text("Log out")');
  await d.waitForSelector('h1:has-text("You are signed out")');
  await go(d, '/login');
  await shot(d, 'login');

  const m = await page(PHONE);
  await go(m, '/');
  await shot(m, 'home-phone');
  await go(m, `/books/${top[1]}`);
  await shot(m, 'book-phone');
  await go(m, '/login');
  await m.fill('#login-login', 'reader');
  await m.fill('#login-password', 'a long passphrase');
  await m.click('button:has-text("Log in")');
  await m.waitForURL(`${BASE}/profile`);
  await shot(m, 'profile-phone');
} finally {
  await b.close();
}
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
