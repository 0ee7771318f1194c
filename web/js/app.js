// The web UI's entry point: configuration, the signed-in reader, the header's links, the
// routes. Pages are modules under pages/ that render into <main> (router.js).

import { h } from './dom.js';
import { loadConfig } from './config.js';
import { loadSession, onSessionChange, session } from './session.js';
import { route, setFallbacks, startRouter, navigate } from './router.js';
import { errorState } from './components/states.js';
import { homePage } from './pages/home.js';
import { signupPage } from './pages/signup.js';
import { loginPage, logoutPage } from './pages/login.js';
import { profilePage } from './pages/profile.js';
import { bookPage } from './pages/book.js';
import { searchPage } from './pages/search.js';
import { notFoundPage } from './pages/notfound.js';

function renderNav(account) {
  const ul = document.getElementById('nav-links');
  const here = location.pathname;
  const link = (href, text) => h('li', {}, h('a', { href, 'aria-current': here === href ? 'page' : null }, text));
  const items = [link('/search', 'Search')];
  if (account) {
    items.push(link('/profile', account.username));
    const out = h('button', { type: 'button', class: 'link-button' }, 'Log out');
    out.addEventListener('click', () => navigate('/logout'));
    items.push(h('li', {}, out));
  } else {
    items.push(link('/login', 'Log in'));
    items.push(h('li', {}, h('a', { href: '/signup', class: 'button button-small', 'aria-current': here === '/signup' ? 'page' : null }, 'Sign up')));
  }
  ul.replaceChildren(...items);
}

function errorPage({ main }, err) {
  main.replaceChildren(h('h1', {}, 'Something went wrong'), errorState(err, () => location.reload()));
}

route(/^\/$/, homePage);
route(/^\/signup\/?$/, signupPage);
route(/^\/login\/?$/, loginPage);
route(/^\/logout\/?$/, logoutPage);
route(/^\/profile\/?$/, profilePage);
route(/^\/books\/(\d{1,10})\/?$/, bookPage);
route(/^\/search\/?$/, searchPage);
setFallbacks(notFoundPage, errorPage);

async function main() {
  await loadConfig();
  onSessionChange(renderNav);
  window.addEventListener('popstate', () => renderNav(session.account));
  document.addEventListener('bookrec:navigated', () => renderNav(session.account));
  try {
    await loadSession();
  } catch {
    // the server is unreachable: pages show it when they ask for their data
  }
  renderNav(session.account);
  await startRouter(document.getElementById('main'));
}

main();
