// The Schedules page: every Schedule in a live table (its own watch of
// /api/v1/schedules) with when it fires, what is active, and a strip of
// its recent Runs coloured by phase (a watch of the Runs labelled
// sprint/schedule, grouped by that label).

import {h, replace, errorBox} from '../dom.js';
import {Informer} from '../watch.js';
import {VirtualTable} from '../vtable.js';
import {TERMINAL, PHASES, phaseOf, age, until, byNewest, num} from '../format.js';
import {renderGraph} from '../graph.js';

// MAX_CHAIN_NODES bounds the Schedule chains drawn.
const MAX_CHAIN_NODES = 200;

// LABEL is the label every Run a Schedule fires carries (DESIGN.md §5).
export const LABEL = 'sprint/schedule';

// STRIP is how many of a Schedule's latest Runs its history strip shows.
const STRIP = 12;

// trigger says when a Schedule fires, in words.
export function trigger(sc) {
  const s = sc.spec || {};
  if (s.schedule) return s.schedule;
  if (s.interval) return `every ${s.interval} after the last batch`;
  if (s.dependsOn && s.dependsOn.length) return 'after ' + s.dependsOn.map(d => d.schedule).join(', ');
  return '—';
}

// historyStrip renders a Schedule's Runs, oldest to newest, as a row of
// squares coloured by phase; each is a link to its Run with the name and
// phase as its text for assistive technology and as its tooltip.
export function historyStrip(runs) {
  if (!runs || !runs.length) return h('span', {class: 'muted', text: 'no Runs'});
  const shown = runs.slice(0, STRIP).reverse();
  const ok = runs.filter(r => phaseOf(r) === 'Succeeded').length;
  const bad = runs.filter(r => ['Failed', 'Killed'].includes(phaseOf(r))).length;
  return h('span', {class: 'strip', role: 'group', 'aria-label': `Recent Runs: ${ok} succeeded, ${bad} failed or killed, ${runs.length - ok - bad} not finished`},
    shown.map(r => {
      const p = phaseOf(r);
      const label = `${r.metadata.name}: ${p}`;
      return h('a', {href: '#/runs/' + encodeURIComponent(r.metadata.name), title: label, 'aria-label': label,
        class: `tick phase-${PHASES.includes(p) ? p : 'Pending'}`, dataset: {phase: p, run: r.metadata.name}});
    }));
}

// groupRuns maps a Schedule name to its Runs, newest first.
export function groupRuns(items) {
  const by = new Map();
  for (const r of items.values()) {
    const s = r.metadata.labels && r.metadata.labels[LABEL];
    if (!s) continue;
    if (!by.has(s)) by.set(s, []);
    by.get(s).push(r);
  }
  for (const list of by.values()) list.sort(byNewest);
  return by;
}

// chainNodes are the Schedules that depend on others (spec.dependsOn)
// and those they depend on, as graph nodes coloured by their latest Run.
export function chainNodes(schedules, byName) {
  const nodes = new Map();
  const add = name => {
    if (nodes.has(name) || nodes.size >= MAX_CHAIN_NODES) return nodes.get(name);
    const sc = schedules.get(name);
    const last = (byName.get(name) || [])[0];
    const n = {name, missing: !sc, phase: last ? phaseOf(last) : 'Pending', reason: last ? 'latest Run' : 'no Runs',
      deps: sc ? (sc.spec.dependsOn || []).map(d => ({name: d.schedule, condition: 'Succeeded'})) : []};
    nodes.set(name, n);
    return n;
  };
  for (const sc of schedules.values()) {
    const deps = sc.spec.dependsOn || [];
    if (!deps.length) continue;
    add(sc.metadata.name);
    deps.forEach(d => add(d.schedule));
  }
  return nodes;
}

// timeCell shows a time relative to now, with the absolute time as title.
function timeCell(ts, future) {
  if (!ts) return '—';
  return h('time', {class: future ? 'next' : 'last', datetime: ts, title: new Date(ts).toLocaleString(), text: future ? until(ts) : age(ts) + ' ago'});
}

const SORTS = {
  name: (a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0),
  next: (a, b) => {
    const x = (a.status && a.status.nextScheduleTime) || '~', y = (b.status && b.status.nextScheduleTime) || '~';
    return x < y ? -1 : x > y ? 1 : SORTS.name(a, b);
  },
};

function mount(el, ctx, _params, query) {
  ctx.setTitle('Schedules');
  el.classList.add('fill');
  const state = {q: query.get('q') || '', sort: SORTS[query.get('sort')] ? query.get('sort') : 'name', dir: query.get('dir') === 'desc' ? 'descending' : 'ascending'};
  const nameInput = h('input', {id: 's-name', type: 'search', value: state.q, placeholder: 'part of a name', autocomplete: 'off', spellcheck: 'false'});
  const count = h('span', {class: 'muted', id: 'schedules-count'});
  const problem = h('div');
  const chains = h('details', {id: 'schedule-chains', class: 'chains', hidden: true});
  let chainsOpened = false;
  let chainsKey = '';
  let byName = new Map();

  const table = new VirtualTable({
    label: 'Schedules',
    rowKey: s => s.metadata.name,
    rowHref: s => '#/schedules/' + encodeURIComponent(s.metadata.name),
    onSort: key => {
      state.dir = state.sort === key && state.dir === 'ascending' ? 'descending' : 'ascending';
      state.sort = key;
      table.setSort(state.sort, state.dir);
      saveQuery();
      recompute();
    },
    empty: () => (!schedules.synced ? 'Loading Schedules…' : schedules.items.size ? 'No Schedules match this filter.' : 'No Schedules yet. Apply a manifest of kind Schedule to create one.'),
    columns: [
      {key: 'name', label: 'Name', cls: 'c-name', sortable: true, render: s => s.metadata.name},
      {key: 'schedule', label: 'Schedule', cls: 'c-sched', render: s => h('code', {text: trigger(s)}), title: s => trigger(s)},
      {key: 'tz', label: 'Time zone', cls: 'c-tz', render: s => (s.spec.schedule ? s.spec.timeZone || 'UTC' : '—')},
      {key: 'suspend', label: 'Suspended', cls: 'c-susp', render: s => (s.spec.suspend ? h('span', {class: 'tag bad', text: 'suspended'}) : 'no')},
      {key: 'active', label: 'Active', cls: 'c-active', num: true, render: s => String(((s.status && s.status.active) || []).length)},
      {key: 'last', label: 'Last firing', cls: 'c-last', render: s => timeCell(s.status && s.status.lastScheduleTime, false)},
      {key: 'next', label: 'Next firing', cls: 'c-next', sortable: true,
        render: s => (s.spec.suspend ? h('span', {class: 'muted', text: 'suspended'}) : timeCell(s.status && s.status.nextScheduleTime, true)),
        title: s => (s.status && s.status.message) || ''},
      {key: 'history', label: 'Recent Runs', cls: 'c-hist', render: s => historyStrip(byName.get(s.metadata.name))},
    ],
  });
  table.setSort(state.sort, state.dir);

  el.append(
    h('h1', {tabindex: '-1'}, 'Schedules ', count),
    h('div', {class: 'toolbar'}, h('div', {class: 'field'}, h('label', {for: 's-name', text: 'Name'}), nameInput)),
    problem, chains, table.el);

  function saveQuery() {
    ctx.replaceQuery({q: state.q, sort: state.sort === 'name' ? '' : state.sort, dir: state.dir === 'descending' ? 'desc' : ''});
  }

  function recompute() {
    byName = groupRuns(runs.items);
    const q = state.q.toLowerCase();
    const rows = [...schedules.items.values()].filter(s => !q || s.metadata.name.toLowerCase().includes(q));
    const cmp = SORTS[state.sort];
    rows.sort(state.dir === 'ascending' ? cmp : (a, b) => cmp(b, a));
    table.setRows(rows);
    const total = schedules.items.size;
    const active = [...runs.items.values()].filter(r => !TERMINAL.has(phaseOf(r))).length;
    renderChains();
    count.textContent = (rows.length === total ? num(total) : `${num(rows.length)} of ${num(total)}`) + (active ? ` · ${num(active)} Runs active` : '');
  }

  // Chains of Schedules (spec.dependsOn), drawn above the table when
  // there are any; open at first when they are few.
  function renderChains() {
    const nodes = chainNodes(schedules.items, byName);
    chains.hidden = nodes.size === 0;
    if (!nodes.size) return;
    const key = JSON.stringify([...nodes.values()].map(n => [n.name, n.phase, n.reason, n.missing, n.deps.map(d => d.name)]));
    if (key === chainsKey) return; // unchanged: keep the drawing (and the focus in it)
    chainsKey = key;
    if (!chainsOpened) {
      chains.open = nodes.size <= 12;
      chainsOpened = true;
    }
    replace(chains, h('summary', {text: `Schedule chains (${nodes.size} Schedules): who fires after whom`}),
      h('div', {class: 'graph-box'}, renderGraph(nodes, {label: `Chains of Schedules: ${nodes.size}`, href: n => '#/schedules/' + encodeURIComponent(n)})));
  }

  // Two watches: the Schedules, and the Runs they fired (for the strips).
  const schedules = new Informer(ctx.api, {path: '/api/v1/schedules'});
  const runs = new Informer(ctx.api, {path: '/api/v1/runs', query: {labelSelector: LABEL}});
  const onState = (s, detail) => {
    const worst = [schedules.state, runs.state].includes('error') ? 'error' : schedules.state;
    ctx.setConn(worst, detail);
    if (s === 'error' && detail && detail.code >= 400 && detail.code !== 401) replace(problem, errorBox(detail, 'Cannot watch Schedules'));
    else if (s === 'live' && schedules.state === 'live' && runs.state === 'live') replace(problem);
  };
  const offs = [schedules, runs].map(inf => inf.listen({change: recompute, state: onState}));
  schedules.start();
  runs.start();
  recompute();

  let typing = 0;
  nameInput.addEventListener('input', () => {
    clearTimeout(typing);
    typing = setTimeout(() => { state.q = nameInput.value.trim(); saveQuery(); recompute(); }, 80);
  });
  // Next-firing countdowns and ages move with the clock.
  const tick = setInterval(() => table.refresh(), 1000);

  return {
    unmount() {
      clearInterval(tick);
      clearTimeout(typing);
      offs.forEach(off => off());
      schedules.stop();
      runs.stop();
      table.destroy();
      el.classList.remove('fill');
    },
  };
}

export default {mount};
