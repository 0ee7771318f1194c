// Sign up: username, email, password and favorite subjects (suggested as you type), so
// that recommendations can start before the first rating.
import { h } from '../dom.js';
import { post } from '../api.js';
import { session, startSession } from '../session.js';
import { navigate } from '../router.js';
import { subjectPicker } from '../components/subjectpicker.js';
import { field, formError, busy } from './forms.js';

export async function signupPage({ main }) {
  if (session.account) {
    main.append(h('h1', {}, 'You are signed in'),
      h('p', {}, `You are signed in as ${session.account.username}. `, h('a', { href: '/profile' }, 'Go to your profile'), '.'));
    return;
  }
  const err = formError();
  const picker = subjectPicker({
    label: 'Favorite subjects',
    hint: 'Choose a few subjects you like to read: your first recommendations come from them. Type to see suggestions; Enter adds one.',
  });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Create account');
  const form = h('form', { class: 'form', 'aria-labelledby': 'signup-title' },
    err.el,
    field({ id: 'signup-username', name: 'username', label: 'Username', autocomplete: 'username', minlength: 3, maxlength: 32, pattern: '[A-Za-z0-9_.\\-]{3,32}', hint: '3 to 32 letters, digits, dots, dashes or underscores.' }),
    field({ id: 'signup-email', name: 'email', label: 'Email', type: 'email', autocomplete: 'email', maxlength: 254 }),
    field({ id: 'signup-password', name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', minlength: 8, hint: 'At least 8 characters.' }),
    h('fieldset', { class: 'fieldset' }, h('legend', {}, 'What do you like to read?'), picker.el),
    h('div', { class: 'form-actions' }, submit,
      h('p', {}, 'Already have an account? ', h('a', { href: '/login' }, 'Log in'), '.')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.clear();
    const fd = new FormData(form);
    const body = {
      username: String(fd.get('username') || '').trim(),
      email: String(fd.get('email') || '').trim(),
      password: String(fd.get('password') || ''),
      favorite_subjects: picker.value,
    };
    try {
      const data = await busy(submit, 'Creating your account…', () => post('/auth/signup', body));
      startSession(data);
      navigate('/profile');
    } catch (ex) {
      err.show(ex);
    }
  });
  main.append(h('h1', { id: 'signup-title' }, 'Create your account'), form);
}
