// Log in (username or email and password) and log out.
import { h } from '../dom.js';
import { post, ApiError } from '../api.js';
import { session, startSession, endSession } from '../session.js';
import { navigate } from '../router.js';
import { field, formError, busy } from './forms.js';
import { errorState } from '../components/states.js';

// Only local paths are followed after logging in (no open redirect).
function safeNext(query) {
  const next = query.get('next') || '/profile';
  return /^\/(?!\/)[A-Za-z0-9/_.?=&%-]*$/.test(next) ? next : '/profile';
}

export async function loginPage({ main, query }) {
  const next = safeNext(query);
  if (session.account) {
    main.append(h('h1', {}, 'You are signed in'),
      h('p', {}, `You are signed in as ${session.account.username}. `, h('a', { href: next }, 'Continue'), '.'));
    return;
  }
  const err = formError();
  const submit = h('button', { type: 'submit', class: 'button' }, 'Log in');
  const form = h('form', { class: 'form', 'aria-labelledby': 'login-title' },
    err.el,
    field({ id: 'login-login', name: 'login', label: 'Username or email', autocomplete: 'username' }),
    field({ id: 'login-password', name: 'password', label: 'Password', type: 'password', autocomplete: 'current-password' }),
    h('div', { class: 'form-actions' }, submit,
      h('p', {}, 'New here? ', h('a', { href: '/signup' }, 'Create an account'), '.')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.clear();
    const fd = new FormData(form);
    try {
      const data = await busy(submit, 'Logging in…', () => post('/auth/login', {
        login: String(fd.get('login') || '').trim(),
        password: String(fd.get('password') || ''),
      }));
      startSession(data);
      navigate(next);
    } catch (ex) {
      err.show(ex);
    }
  });
  const intro = query.get('next') ? h('p', {}, 'Log in to continue.') : null;
  main.append(h('h1', { id: 'login-title' }, 'Log in'), intro, form);
}

export async function logoutPage({ main }) {
  if (session.account) {
    try {
      await post('/auth/logout');
    } catch (e) {
      // a session the server no longer knows is signed out anyway
      if (!(e instanceof ApiError && (e.status === 401 || e.status === 403))) {
        main.append(h('h1', {}, 'Log out'), errorState(e, () => navigate('/logout', { replace: true })));
        return;
      }
    }
  }
  endSession();
  main.append(h('h1', {}, 'You are signed out'),
    h('p', {}, 'Your ratings and favorite subjects are kept for your next visit.'),
    h('p', {}, h('a', { href: '/login', class: 'button' }, 'Log in again'), ' ', h('a', { href: '/' }, 'Home')));
}
