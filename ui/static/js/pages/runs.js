// The Runs page: every Run in a live, virtualised table. The label
// selector filters on the server (list and watch); name and phase filter
// in the browser, at once, over what the watch keeps up to date.

import {h, replace, errorBox} from '../dom.js';
import {acquire, release} from '../runstore.js';
import {VirtualTable} from '../vtable.js';
import {PHASES, TERMINAL, phaseOf, phaseBadge, age, labelText, num} from '../format.js';

const PHASE_FILTERS = [['', 'All'], ['active', 'Active'], ['finished', 'Finished'], ...PHASES.map(p => [p, p])];

function matchesPhase(run, f) {
  if (!f) return true;
  const p = phaseOf(run);
  if (f === 'active') return !TERMINAL.has(p);
  if (f === 'finished') return TERMINAL.has(p);
  return p === f;
}

const created = r => r.metadata.creationTimestamp || '';
const SORTS = {
  name: (a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
  age: (a, b) => (created(a) < created(b) ? 1 : created(a) > created(b) ? -1 : SORTS.name(a, b)), // newest first
  phase: (a, b) => PHASES.indexOf(phaseOf(a)) - PHASES.indexOf(phaseOf(b)) || SORTS.name(a, b),
};

function mount(el, ctx, _params, query) {
  ctx.setTitle('Runs');
  el.classList.add('fill');
  const state = {
    q: query.get('q') || '',
    phase: query.get('phase') || '',
    l: query.get('l') || '',
    sort: SORTS[query.get('sort')] ? query.get('sort') : 'name',
    dir: query.get('dir') === 'desc' ? 'descending' : 'ascending',
  };
  let firstPaint = false;

  const nameInput = h('input', {id: 'f-name', type: 'search', value: state.q, placeholder: 'part of a name', autocomplete: 'off', spellcheck: 'false'});
  const phaseSelect = h('select', {id: 'f-phase'}, PHASE_FILTERS.map(([v, t]) => h('option', {value: v, text: t, selected: v === state.phase})));
  const selInput = h('input', {id: 'f-sel', type: 'text', value: state.l, placeholder: 'team=data,tier!=batch', autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'f-sel-help'});
  const selForm = h('form', {class: 'field grow', role: 'search', 'aria-label': 'Label selector'},
    h('label', {for: 'f-sel', text: 'Label selector'}),
    h('div', {class: 'buttons'}, selInput, h('button', {type: 'submit', text: 'Apply'})),
    h('small', {id: 'f-sel-help', text: 'Kubernetes syntax, filtered by the server: key=value, key!=value, key in (a,b), !key'}));
  const count = h('span', {class: 'muted', id: 'runs-count'}); // not a live region: it changes with every watch event
  const chips = h('ul', {class: 'chips', 'aria-label': 'Runs by phase'});
  const problem = h('div');
  const table = new VirtualTable({
    label: 'Runs',
    rowKey: r => r.metadata.name,
    rowHref: r => '#/runs/' + encodeURIComponent(r.metadata.name),
    onSort: key => {
      state.dir = state.sort === key && state.dir === 'ascending' ? 'descending' : 'ascending';
      state.sort = key;
      table.setSort(state.sort, state.dir);
      saveQuery();
      recompute();
    },
    empty: () => (!inf ? '' : inf.synced ? (inf.items.size ? 'No Runs match these filters.' : 'No Runs yet. Apply a manifest to create one.') : 'Loading Runs…'),
    columns: [
      {key: 'name', label: 'Name', cls: 'c-name', sortable: true, render: r => r.metadata.name},
      {key: 'phase', label: 'Phase', cls: 'c-phase', sortable: true, render: r => phaseBadge(phaseOf(r)), title: r => (r.status && r.status.message) || phaseOf(r)},
      {key: 'reason', label: 'Reason', cls: 'c-reason', render: r => (r.status && r.status.reason) || ''},
      {key: 'age', label: 'Age', cls: 'c-age', sortable: true, render: r => age(r.metadata.creationTimestamp), title: r => r.metadata.creationTimestamp || ''},
      {key: 'host', label: 'Host', cls: 'c-host', render: r => (r.status && r.status.hostname) || ''},
      {key: 'exit', label: 'Exit', cls: 'c-exit', num: true, render: r => (r.status && r.status.exitCode !== undefined && r.status.exitCode !== null ? String(r.status.exitCode) : '')},
      {key: 'attempts', label: 'Attempts', cls: 'c-att', num: true, render: r => String((r.status && r.status.attempts) || 0)},
      {key: 'labels', label: 'Labels', cls: 'c-labels', render: r => labelText(r.metadata.labels).map(t => h('span', {class: 'label', text: t})),
        title: r => labelText(r.metadata.labels).join(', ')},
    ],
  });
  table.setSort(state.sort, state.dir);

  el.append(
    h('h1', {tabindex: '-1'}, 'Runs ', count),
    h('div', {class: 'toolbar'},
      h('div', {class: 'field'}, h('label', {for: 'f-name', text: 'Name'}), nameInput),
      h('div', {class: 'field'}, h('label', {for: 'f-phase', text: 'Phase'}), phaseSelect),
      selForm),
    chips, problem, table.el);

  function saveQuery() {
    ctx.replaceQuery({q: state.q, phase: state.phase, l: state.l, sort: state.sort === 'name' ? '' : state.sort, dir: state.dir === 'descending' ? 'desc' : ''});
  }

  // With thousands of Runs changing, sorting them all on every frame
  // would keep the page busy: at most four times a second then.
  let lastCompute = 0, deferred = 0;
  function scheduleRecompute() {
    const wait = inf.items.size > 2000 ? 250 - (performance.now() - lastCompute) : 0;
    if (wait <= 0) recompute();
    else if (!deferred) deferred = setTimeout(() => { deferred = 0; recompute(); }, wait);
  }

  function recompute() {
    lastCompute = performance.now();
    const counts = Object.fromEntries(PHASES.map(p => [p, 0]));
    const rows = [];
    const q = state.q.toLowerCase();
    for (const r of inf.items.values()) {
      counts[phaseOf(r)] = (counts[phaseOf(r)] || 0) + 1;
      if (q && !r.metadata.name.toLowerCase().includes(q)) continue;
      if (!matchesPhase(r, state.phase)) continue;
      rows.push(r);
    }
    const cmp = SORTS[state.sort];
    rows.sort(state.dir === 'ascending' ? cmp : (a, b) => cmp(b, a));
    table.setRows(rows);
    const total = inf.items.size;
    const loading = !inf.synced && inf.remaining ? ` (loading, ${num(inf.remaining)} more…)` : '';
    count.textContent = rows.length === total ? `${num(total)}${loading}` : `${num(rows.length)} of ${num(total)}${loading}`;
    renderChips(counts, total);
    if (!firstPaint && (rows.length || inf.synced)) {
      firstPaint = true;
      requestAnimationFrame(() => setTimeout(() => performance.mark('runs-first-paint'), 0));
    }
    if (inf.synced && !performance.getEntriesByName('runs-synced').length) {
      requestAnimationFrame(() => setTimeout(() => performance.mark('runs-synced'), 0));
    }
  }

  function renderChips(counts, total) {
    const chip = (value, text, n) => h('li', null, h('button', {type: 'button', 'aria-pressed': String(state.phase === value),
      onclick: () => { state.phase = state.phase === value ? '' : value; phaseSelect.value = state.phase; saveQuery(); recompute(); }},
    value && PHASES.includes(value) ? phaseBadge(value) : text, ' ', num(n)));
    replace(chips, chip('', 'All', total), PHASES.filter(p => counts[p]).map(p => chip(p, p, counts[p])));
  }

  let inf = null, off = null;
  function bind(selector) {
    if (inf) { off(); release(inf); }
    inf = acquire(ctx.api, selector);
    off = inf.listen({
      change: () => scheduleRecompute(),
      state: (s, detail) => {
        ctx.setConn(s, detail);
        if (s === 'error' && detail && detail.code >= 400 && detail.code < 500 && detail.code !== 401) {
          replace(problem, errorBox(detail, detail.code === 400 ? 'The server refused this filter' : null));
        } else if (s === 'live') {
          replace(problem);
        }
      },
    });
    ctx.setConn(inf.state || 'loading');
    recompute();
  }
  bind(state.l);

  let typing = 0;
  nameInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = nameInput.value.trim(); saveQuery(); recompute(); }, 80);
  });
  phaseSelect.addEventListener('change', () => { state.phase = phaseSelect.value; saveQuery(); recompute(); });
  selForm.addEventListener('submit', ev => {
    ev.preventDefault();
    const l = selInput.value.trim();
    if (l === state.l) return;
    state.l = l;
    saveQuery();
    replace(problem);
    bind(l);
  });

  const tick = setInterval(() => table.refresh(), 5000);

  return {
    unmount() {
      clearInterval(tick);
      clearTimeout(typing);
      clearTimeout(deferred);
      table.destroy();
      off();
      release(inf);
      el.classList.remove('fill');
    },
  };
}

export default {mount};
