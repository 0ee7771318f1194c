// Who is signed in. The session itself is the gateway's HttpOnly cookie; the page keeps
// the account and the CSRF token, and a flag in localStorage that says a session may
// exist, so an anonymous visit does not start with a 401 from GET /me.

import { api, ApiError, setCsrf } from './api.js';

const FLAG = 'bookrec.session';
const listeners = new Set();
export const session = { account: null, loaded: false };

function setFlag(on) {
  try {
    if (on) localStorage.setItem(FLAG, '1');
    else localStorage.removeItem(FLAG);
  } catch {
    // no storage: every visit starts signed out in the UI
  }
}

function hasFlag() {
  try { return localStorage.getItem(FLAG) === '1'; } catch { return false; }
}

function notify() {
  for (const fn of listeners) fn(session.account);
}

export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// Loads the account behind the cookie once per page load (or again with force).
export async function loadSession(force = false) {
  if (session.loaded && !force) return session.account;
  session.loaded = true;
  if (!hasFlag()) {
    session.account = null;
    notify();
    return null;
  }
  try {
    const data = await api('GET', '/me');
    session.account = data.account;
    if (data.csrf_token) setCsrf(data.csrf_token);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setFlag(false);
      setCsrf('');
    }
    session.account = null;
    if (!(e instanceof ApiError && e.status === 401)) {
      notify();
      throw e;
    }
  }
  notify();
  return session.account;
}

// After sign-up or log-in: {account, csrf_token, ...} from the gateway.
export function startSession(data) {
  setCsrf(data.csrf_token);
  setFlag(true);
  session.account = data.account;
  session.loaded = true;
  notify();
}

export function updateAccount(account) {
  session.account = account;
  notify();
}

export function endSession() {
  setCsrf('');
  setFlag(false);
  session.account = null;
  session.loaded = true;
  notify();
}
