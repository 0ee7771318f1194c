// Search: a query with title suggestions as you type, a subject filter (suggested from
// GET /subjects), results with pages. The state lives in the URL (?q=&subjects=&page=),
// so reload, back and shared links work.
import { h } from '../dom.js';
import { get } from '../api.js';
import { config } from '../config.js';
import { navigate, setQuery } from '../router.js';
import { combobox } from '../components/combobox.js';
import { subjectPicker } from '../components/subjectpicker.js';
import { bookList, bookTitle } from '../components/booklist.js';
import { pager } from '../components/pager.js';
import { loading, empty, errorState } from '../components/states.js';

export async function searchPage({ main, query, signal }) {
  let q = (query.get('q') || '').trim();
  let page = Math.max(1, Math.min(50, parseInt(query.get('page') || '1', 10) || 1));
  const initialSubjects = (query.get('subjects') || '').split(',').map((s) => s.trim()).filter(Boolean);
  let stop = () => {};
  let seq = 0;

  const results = h('div', { class: 'list-box', 'aria-live': 'polite' });
  const summary = h('p', { class: 'result-summary' });
  const cb = combobox({
    label: 'Search for',
    name: 'q',
    type: 'search',
    value: q,
    placeholder: 'Title, author or topic',
    minChars: 2,
    fetch: async (text, sig) => {
      const data = await get('/search', { q: text, page_size: 6 }, sig);
      return data.items.map((it) => ({
        value: it.book.id,
        label: bookTitle(it.book),
        detail: [it.book.author, it.book.year].filter(Boolean).join(', '),
      }));
    },
    onPick: (it) => navigate(`/books/${it.value}`),
    onEnter: () => submit(),
  });
  const subjects = subjectPicker({
    label: 'Only books about',
    initial: initialSubjects,
    hint: 'Optional: results must have every subject you add.',
    onChange: () => { if (q) { page = 1; run(true); } },
  });
  const submitBtn = h('button', { type: 'submit', class: 'button' }, 'Search');
  const form = h('form', { class: 'form search-page-form', role: 'search', 'aria-label': 'Search books' },
    cb.el, subjects.el, h('div', { class: 'form-actions' }, submitBtn));

  function submit() {
    q = cb.input.value.trim();
    page = 1;
    run(true);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });

  async function run(push) {
    const mine = ++seq;
    stop();
    stop = () => {};
    const subj = subjects.value.join(',');
    if (push) {
      setQuery({ q, subjects: subj, page: page > 1 ? page : null });
      title.textContent = q ? `Search: ${q}` : 'Search books';
      document.title = `${title.textContent} · bookrec`;
    }
    if (!q) {
      summary.textContent = '';
      results.replaceChildren(empty('Type a title, an author or a topic to search the catalog.'));
      return;
    }
    results.setAttribute('aria-busy', 'true');
    results.replaceChildren(loading('Searching…'));
    try {
      const data = await get('/search', { q, subjects: subj, page, page_size: config.page_size }, signal);
      if (mine !== seq) return;
      results.removeAttribute('aria-busy');
      const filter = subj ? ` about ${subjects.value.join(' and ')}` : '';
      if (!data.items.length) {
        summary.textContent = '';
        results.replaceChildren(empty(page > 1
          ? 'No more results.'
          : `No books match “${q}”${filter}. Try other words${subj ? ' or remove a subject' : ''}.`));
        return;
      }
      summary.textContent = `Results for “${q}”${filter}, page ${page}.`;
      const list = bookList(data.items, { label: 'Search results', track: { surface: 'search', mode: 'search', version: data.version } });
      stop = list.stop;
      results.replaceChildren(list.el, pager({
        page, hasMore: data.has_more, label: 'Result pages',
        onPage: (p) => { page = p; run(true); summary.focus(); },
      }) || '');
    } catch (e) {
      if (e.name === 'AbortError' || mine !== seq) return;
      results.removeAttribute('aria-busy');
      summary.textContent = '';
      results.replaceChildren(errorState(e, () => run(false)));
    }
  }

  summary.setAttribute('tabindex', '-1');
  const title = h('h1', {}, q ? `Search: ${q}` : 'Search books');
  main.append(title, form, summary, results);
  run(false);
  return () => stop();
}
