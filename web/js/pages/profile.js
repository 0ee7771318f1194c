// Profile: the reader's details, favorite subjects (editable, PATCH /me), recommendations
// (tabs Subject / Behavioral; a popularity-vs-subject slider for subject mode) and their
// ratings (keyset-paginated, "Show more").
//
// Behavioral recommendations need models.warm_min_ratings rated or read books; below that
// the tab is disabled and says how many ratings unlock it. The gateway folds new ratings
// in at request time, so the tab opens as soon as the count is reached.
import { h, debounce, plural } from '../dom.js';
import { get, patch, ApiError } from '../api.js';
import { config } from '../config.js';
import { session, updateAccount, endSession } from '../session.js';
import { navigate } from '../router.js';
import { bookList, bookTitle } from '../components/booklist.js';
import { tabs } from '../components/tabs.js';
import { pager } from '../components/pager.js';
import { subjectPicker } from '../components/subjectpicker.js';
import { loading, empty, errorState } from '../components/states.js';
import { busy } from './forms.js';

const DEFAULT_A = 0.8;

function dateText(unix) {
  try {
    return new Date(unix * 1000).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
  } catch {
    return '';
  }
}

function details(account) {
  return h('section', { class: 'panel', 'aria-labelledby': 'details-title' },
    h('h2', { id: 'details-title' }, 'Your details'),
    h('dl', { class: 'details' },
      h('dt', {}, 'Username'), h('dd', {}, account.username),
      h('dt', {}, 'Email'), h('dd', {}, account.email),
      h('dt', {}, 'Member since'), h('dd', {}, dateText(account.created_at)),
      h('dt', {}, 'Books rated or read'), h('dd', { 'data-testid': 'rating-count' }, String(account.ratings))));
}

function subjectsSection(account, onSaved) {
  const status = h('p', { class: 'status-text', role: 'status' });
  const picker = subjectPicker({
    label: 'Add a subject',
    initial: account.favorite_subjects.map((s) => s.name),
    onChange: () => { status.textContent = 'Not saved yet.'; },
  });
  const save = h('button', { type: 'submit', class: 'button' }, 'Save subjects');
  const form = h('form', { class: 'form form-inline' }, picker.el, h('div', { class: 'form-actions' }, save, status));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const data = await busy(save, 'Saving…', () => patch('/me', { favorite_subjects: picker.value }));
      updateAccount(data.account);
      status.textContent = 'Saved.';
      onSaved(data.account);
    } catch (ex) {
      status.textContent = `Not saved: ${ex.message}`;
    }
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'subjects-title' },
    h('h2', { id: 'subjects-title' }, 'Favorite subjects'),
    h('p', { class: 'hint' }, 'Your subject recommendations come from these.'),
    form);
}

function recommendationsSection(initialAccount, signal) {
  let account = initialAccount;
  let a = DEFAULT_A;
  let page = 1;
  let stop = () => {};
  let seq = 0;
  const box = h('div', { class: 'list-box', 'aria-live': 'polite' });
  const why = h('p', { id: 'behavioral-why', class: 'hint' });
  const reason = h('p', { class: 'reason' });

  const slider = h('input', {
    id: 'rec-a', type: 'range', min: '0', max: '1', step: '0.1', value: String(a), class: 'slider',
    'aria-describedby': 'rec-a-help', 'aria-valuetext': '',
  });
  const sliderOut = h('output', { for: 'rec-a', class: 'slider-value' });
  const sliderBox = h('div', { class: 'slider-field' },
    h('label', { for: 'rec-a' }, 'Popular books ↔ your subjects'),
    h('div', { class: 'slider-row' }, h('span', { 'aria-hidden': 'true' }, 'Popular'), slider, h('span', { 'aria-hidden': 'true' }, 'Subjects'), sliderOut),
    h('p', { id: 'rec-a-help', class: 'hint' }, 'Slide left for what is popular with everyone, right for what matches your favorite subjects.'));

  function sliderText() {
    const pct = Math.round(a * 100);
    const text = `${pct}% subjects, ${100 - pct}% popularity`;
    slider.setAttribute('aria-valuetext', text);
    sliderOut.textContent = text;
  }
  sliderText();

  function whyText() {
    const need = Math.max(0, account.warm_min_ratings - account.ratings);
    return account.behavioral
      ? 'Behavioral recommendations learn from the books you have rated and read.'
      : `Behavioral recommendations learn from the books you rate. They unlock after ${plural(account.warm_min_ratings, 'rated book')}: you have ${account.ratings}, so rate ${need} more.`;
  }
  why.textContent = whyText();

  const t = tabs({
    label: 'Kind of recommendations',
    items: [
      { id: 'subject', label: 'Subject' },
      { id: 'behavioral', label: 'Behavioral', disabled: !account.behavioral, describedBy: 'behavioral-why' },
    ],
    selected: account.behavioral ? 'behavioral' : 'subject',
    onSelect: () => { page = 1; load(); },
  });
  t.panel.append(sliderBox, reason, box);

  async function load() {
    const mine = ++seq;
    const mode = t.current;
    sliderBox.hidden = mode !== 'subject';
    stop();
    stop = () => {};
    box.setAttribute('aria-busy', 'true');
    if (!box.firstChild || box.firstChild.classList.contains('state')) box.replaceChildren(loading('Loading recommendations…'));
    if (mode === 'subject' && account.favorite_subjects.length === 0) {
      reason.textContent = '';
      box.removeAttribute('aria-busy');
      box.replaceChildren(empty('No recommendations yet: choose a few favorite subjects above and save them.'));
      return;
    }
    try {
      const data = await get('/recommendations', { mode, a: mode === 'subject' ? a : null, page, page_size: config.page_size }, signal);
      if (mine !== seq) return;
      box.removeAttribute('aria-busy');
      box.dataset.mode = data.mode;
      reason.textContent = data.items.length ? `Chosen ${data.reason}.` : '';
      if (!data.items.length) {
        box.replaceChildren(empty(page > 1 ? 'No more recommendations.' : 'No recommendations yet: rate a few books or add favorite subjects.'));
        return;
      }
      const list = bookList(data.items, { label: 'Recommended books', track: { surface: 'recommendations', mode: data.mode, version: data.version } });
      stop = list.stop;
      box.replaceChildren(list.el, pager({
        page, hasMore: data.has_more, label: 'Recommendation pages',
        onPage: (p) => { page = p; load(); t.panel.scrollIntoView({ block: 'start' }); },
      }) || '');
    } catch (e) {
      if (e.name === 'AbortError' || mine !== seq) return;
      box.removeAttribute('aria-busy');
      box.replaceChildren(errorState(e, load));
    }
  }

  const reload = debounce(() => { page = 1; load(); }, 250);
  slider.addEventListener('input', () => {
    a = Number(slider.value);
    sliderText();
    reload();
  });

  const section = h('section', { class: 'panel', 'aria-labelledby': 'recs-title' },
    h('h2', { id: 'recs-title' }, 'Recommended for you'), t.el, why, t.panel);
  load();
  return {
    el: section,
    stop: () => { stop(); reload.cancel(); },
    setAccount(acc) {
      account = acc;
      why.textContent = whyText();
      if (t.current === 'subject') { page = 1; load(); }
    },
  };
}

function ratingsSection(signal) {
  const list = h('ul', { class: 'ratings-list', 'aria-label': 'Your ratings' });
  const box = h('div', {}, loading('Loading your ratings…'));
  const more = h('button', { type: 'button', class: 'button button-secondary', hidden: true }, 'Show more ratings');
  let cursor = null;

  function row(it) {
    const b = it.metadata || { id: it.book };
    return h('li', { class: 'rating-row' },
      h('a', { href: `/books/${it.book}` }, bookTitle(b)),
      b.author ? h('span', { class: 'rating-author' }, ` by ${b.author}`) : null,
      h('span', { class: 'rating-value' }, it.rating ? `${it.rating}/10` : 'Read'),
      h('span', { class: 'rating-date' }, dateText(it.ts)));
  }

  async function load() {
    more.disabled = true;
    try {
      const data = await get('/me/ratings', { limit: config.ratings_page_size, cursor }, signal);
      list.append(...data.items.map(row));
      cursor = data.next_cursor || null;
      more.hidden = !data.has_more;
      if (!list.children.length) {
        box.replaceChildren(empty('You have not rated any books yet. Open a book from your recommendations or from search and rate it.'));
      } else if (!box.contains(list)) {
        box.replaceChildren(list);
      }
      if (list.children.length) box.setAttribute('data-count', String(list.children.length));
    } catch (e) {
      if (e.name === 'AbortError') return;
      box.replaceChildren(errorState(e, () => { box.replaceChildren(loading()); load(); }));
    } finally {
      more.disabled = false;
    }
  }
  more.addEventListener('click', async () => {
    const before = list.children.length;
    await load();
    // keep the keyboard in place: focus the first new rating
    const first = list.children[before];
    if (first) {
      const a = first.querySelector('a');
      if (a) a.focus();
    }
  });
  load();
  return h('section', { class: 'panel', 'aria-labelledby': 'ratings-title' },
    h('h2', { id: 'ratings-title' }, 'Your ratings'), box, more);
}

export async function profilePage({ main, signal }) {
  if (!session.account) {
    navigate('/login?next=/profile', { replace: true });
    return undefined;
  }
  let account;
  try {
    account = (await get('/me', null, signal)).account;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      endSession();
      navigate('/login?next=/profile', { replace: true });
      return undefined;
    }
    throw e;
  }
  updateAccount(account);
  const recs = recommendationsSection(account, signal);
  main.append(
    h('h1', {}, `Hello, ${account.username}`),
    h('div', { class: 'profile-grid' },
      h('div', { class: 'profile-side' }, details(account), subjectsSection(account, (acc) => recs.setAccount(acc))),
      h('div', { class: 'profile-main' }, recs.el, ratingsSection(signal))));
  return () => recs.stop();
}
