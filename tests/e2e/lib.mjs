// Shared by the browser tests and the screenshot script: Debian's chromium driven by
// playwright-core, pages that cannot reach any host but the server under test, and a
// record of console errors and failed requests of our own origin.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BASE = process.env.BOOKREC_URL || 'http://127.0.0.1:8080';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

export async function launch() {
  const userDataDir = mkdtempSync(join(tmpdir(), 'bookrec-e2e-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

// Instruments a page: requests to any other origin are aborted (and counted), console
// errors and uncaught exceptions from our origin are collected in page.problems.
// allow(text, url) may excuse an expected one (a 404 the test asked for).
export function instrument(page, { allow = () => false } = {}) {
  const origin = new URL(BASE).origin;
  page.problems = [];
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
