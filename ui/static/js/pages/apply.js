// The Apply page: paste or upload manifests (YAML or JSON, several
// documents, RunLists; Runs, Schedules and Notifiers), dry-run every
// object on the server and show its field errors next to the lines they
// are about, then apply.

import {h, replace, errorBox} from '../dom.js';
import {splitManifest, locateErrors} from '../yaml.js';
import {DRAFT_KEY} from './run.js';

const MAX_UPLOAD = 4 << 20;

// KINDS are the kinds a manifest may hold: where each is applied and
// where the console shows it. A document of another kind goes to the
// Runs, whose answer names the problem.
const KINDS = {
  Run: {path: '/api/v1/runs', plural: 'Runs', page: n => '#/runs/' + encodeURIComponent(n)},
  Schedule: {path: '/api/v1/schedules', plural: 'Schedules', page: n => '#/schedules/' + encodeURIComponent(n)},
  Notifier: {path: '/api/v1/notifiers', plural: 'Notifiers', page: () => '#/cluster'},
};

// kindOf is a unit's kind: its own kind field (items of a RunList may
// leave it out: Runs).
function kindOf(u) {
  const k = u.outline.value('kind');
  return typeof k === 'string' && KINDS[k] ? k : 'Run';
}

// noun names what results hold: "Run", "Schedules", or "objects" when
// they mix kinds.
function noun(results) {
  const kinds = new Set(results.map(r => r.kind));
  const n = results.length;
  if (kinds.size > 1) return n === 1 ? 'object' : 'objects';
  const k = [...kinds][0] || 'Run';
  return n === 1 ? k : KINDS[k].plural;
}

const EXAMPLE = `apiVersion: sprint/v1
kind: Run
metadata:
  name: hello
  labels:
    team: demo
spec:
  command: echo "hello from sprint on $HOST"
  cpus: 0.1
  mem: 32
`;

function mount(el, ctx) {
  ctx.setTitle('Apply');
  const text = h('textarea', {id: 'manifest', spellcheck: 'false', autocomplete: 'off', wrap: 'off',
    'aria-describedby': 'manifest-help', placeholder: 'apiVersion: sprint/v1\nkind: Run\n…'});
  const gutter = h('pre', {class: 'gutter', 'aria-hidden': 'true'});
  const editor = h('div', {class: 'editor'}, gutter, text);
  const fileInput = h('input', {type: 'file', id: 'manifest-file', accept: '.yaml,.yml,.json,application/json,application/yaml,text/yaml'});
  const dryBtn = h('button', {type: 'button', class: 'primary', id: 'dry-run', text: 'Dry run'});
  const applyBtn = h('button', {type: 'button', id: 'apply', text: 'Apply', disabled: true});
  const clearBtn = h('button', {type: 'button', id: 'clear', class: 'quiet', text: 'Clear'});
  const exampleBtn = h('button', {type: 'button', class: 'quiet', text: 'Insert an example'});
  const hint = h('p', {class: 'muted', role: 'status', 'aria-live': 'polite'});
  const out = h('div', {id: 'apply-results'});

  el.append(
    h('h1', {tabindex: '-1', text: 'Apply'}),
    h('p', {id: 'manifest-help', class: 'muted'},
      'Paste or upload manifests of Runs, Schedules and Notifiers: YAML or JSON, several documents separated by ',
      h('code', {text: '---'}), ', or a RunList. The server checks each one with a dry run first; nothing is stored until you apply. ',
      'Applying a Run that exists updates its labels, annotations, activeDeadlineSeconds, ttlSecondsAfterFinished and cancel; a Schedule or a Notifier, its labels, annotations and spec.'),
    h('div', {class: 'toolbar'},
      h('div', {class: 'field'}, h('label', {for: 'manifest-file', text: 'Upload a file'}), fileInput),
      exampleBtn),
    h('label', {for: 'manifest', text: 'Manifest'}),
    editor,
    h('div', {class: 'buttons'}, dryBtn, applyBtn, clearBtn, hint),
    out);

  let checked = null; // {text, units, results} of the last dry run
  let busy = false;
  let errorLines = new Set();

  function renderGutter() {
    const n = text.value.split('\n').length;
    const frag = [];
    for (let i = 1; i <= n; i++) {
      frag.push(errorLines.has(i) ? h('span', {class: 'bad', text: String(i)}) : String(i), '\n');
    }
    replace(gutter, frag);
    gutter.scrollTop = text.scrollTop;
  }

  function setText(v) {
    text.value = v;
    onEdit();
  }

  function onEdit() {
    sessionStorage.setItem(DRAFT_KEY, text.value);
    if (checked && checked.text !== text.value) {
      errorLines = new Set();
      hint.textContent = 'The manifest changed since the dry run: run it again before applying.';
    }
    updateButtons();
    renderGutter();
  }

  function updateButtons() {
    const ok = checked && checked.text === text.value && checked.results.every(r => r.ok);
    applyBtn.disabled = busy || !ok;
    dryBtn.disabled = busy || text.value.trim() === '';
  }

  function gotoLine(n) {
    const lines = text.value.split('\n');
    let start = 0;
    for (let i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    const end = start + (lines[n - 1] || '').length;
    text.focus();
    text.setSelectionRange(start, end);
    const lh = 20;
    text.scrollTop = Math.max(0, (n - 3) * lh);
    gutter.scrollTop = text.scrollTop;
  }

  // dryRunUnit checks one object: POST ?dryRun parses and validates it
  // as new (and tells its name); PUT ?dryRun then checks it against the
  // stored object of that name (immutable fields, preconditions).
  async function dryRunUnit(u) {
    const kind = kindOf(u);
    const base = KINDS[kind].path;
    let parsed;
    try {
      parsed = await ctx.api.json('POST', base, {query: {dryRun: 'true'}, body: u.text, contentType: u.contentType});
    } catch (e) {
      if (e.code === 401) throw e;
      const named = u.outline.value('metadata.name');
      return {unit: u, kind, ok: false, name: typeof named === 'string' ? named : '', err: e, errors: locateErrors(u, e)};
    }
    const meta = parsed.metadata || {};
    const generated = !!meta.generateName && u.outline.value('metadata.name') === undefined;
    if (generated) return {unit: u, kind, ok: true, generated: true, name: meta.generateName + '…', result: 'created'};
    try {
      const res = await ctx.api.json('PUT', `${base}/${encodeURIComponent(meta.name)}`,
        {query: {dryRun: 'true'}, body: u.text, contentType: u.contentType, withHeaders: true});
      return {unit: u, kind, ok: true, name: meta.name, result: res.headers.get('Sprint-Apply-Result') || (res.status === 201 ? 'created' : 'configured')};
    } catch (e) {
      if (e.code === 401) throw e;
      return {unit: u, kind, ok: false, name: meta.name, err: e, errors: locateErrors(u, e)};
    }
  }

  async function applyUnit(r) {
    const u = r.unit;
    const base = KINDS[r.kind].path;
    try {
      if (r.generated) {
        const created = await ctx.api.json('POST', base, {body: u.text, contentType: u.contentType});
        return {...r, ok: true, name: created.metadata.name, result: 'created', applied: true};
      }
      const res = await ctx.api.json('PUT', `${base}/${encodeURIComponent(r.name)}`, {body: u.text, contentType: u.contentType, withHeaders: true});
      return {...r, ok: true, result: res.headers.get('Sprint-Apply-Result') || 'applied', applied: true};
    } catch (e) {
      if (e.code === 401) throw e;
      return {...r, ok: false, err: e, errors: locateErrors(u, e), applied: true};
    }
  }

  const VERB = {
    created: ['would be created', 'created'],
    configured: ['would be updated', 'configured'],
    unchanged: ['is unchanged', 'unchanged'],
  };

  function renderResults(source, results, applied) {
    errorLines = new Set();
    const byLine = new Map();
    for (const r of results) {
      for (const e of r.errors || []) {
        errorLines.add(e.line);
        if (!byLine.has(e.line)) byLine.set(e.line, []);
        byLine.get(e.line).push(e);
      }
    }
    renderGutter();
    const bad = results.filter(r => !r.ok).length;
    const heading = applied
      ? (bad ? `Applied with ${bad} failure${bad > 1 ? 's' : ''}` : 'Applied')
      : (bad ? `Dry run: ${bad} of ${results.length} ${noun(results)} refused` : `Dry run: ${results.length} ${noun(results)} valid`);
    const list = h('ul', {class: 'results', 'aria-label': 'Results'}, results.map(r => {
      const where = h('span', {class: 'muted', text: ` (${r.unit.label}, line ${r.unit.startLine})`});
      const name = r.name && r.ok && applied ? h('a', {href: KINDS[r.kind].page(r.name), text: r.name}) : h('code', {text: r.name || '?'});
      if (r.ok) {
        const verb = (VERB[r.result] || [r.result, r.result])[applied ? 1 : 0];
        return h('li', null, h('span', {class: 'tag ok', text: 'OK'}), ` ${r.kind} `, name, ` ${verb}`, where);
      }
      const what = r.err.code === 422 ? 'is invalid' : r.err.code === 400 ? 'cannot be read' : r.err.code === 409 ? `conflicts with the stored ${r.kind}` : 'was refused';
      return h('li', null, h('span', {class: 'tag bad', text: String(r.err.code || 'error')}), ' ',
        r.name ? [`${r.kind} `, h('code', {text: r.name}), ' '] : 'This document ', what, where,
        h('ul', null, (r.errors || []).map(e => h('li', null,
          h('button', {type: 'button', class: 'quiet', onclick: () => gotoLine(e.line), text: `line ${e.line}`,
            'aria-label': `Edit line ${e.line}`}), ' ',
          e.field ? [h('code', {text: e.field}), ': '] : '', e.message))));
    }));
    const parts = [h('h2', {tabindex: '-1', id: 'results-title', text: heading})];
    if (bad) {
      // The manifest as sent, each error under the line it is about.
      const lines = source.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      const items = [];
      lines.forEach((l, i) => {
        const n = i + 1;
        const errs = byLine.get(n);
        items.push(h('li', {class: errs ? 'bad' : null, dataset: errs ? {errorLine: String(n)} : null},
          h('span', {class: 'ln', text: String(n)}), h('span', {class: 'mono', text: l || ' '})));
        for (const e of errs || []) {
          items.push(h('li', {class: 'msg', dataset: {line: String(n), field: e.field || ''}},
            h('span', {class: 'ln', text: ''}), h('span', {text: (e.field ? e.field + ': ' : '') + e.message})));
        }
      });
      parts.push(h('ol', {class: 'listing mono', 'aria-label': 'The manifest with the server’s errors under their lines'}, items));
    }
    parts.push(list);
    replace(out, ...parts);
    const listing = out.querySelector('ol.listing');
    const firstBad = listing && listing.querySelector('li.bad');
    if (firstBad) listing.scrollTop = Math.max(0, firstBad.offsetTop - listing.offsetTop - 60);
  }

  async function run(fn) {
    busy = true;
    updateButtons();
    try {
      await fn();
    } catch (e) {
      if (e.code !== 401) replace(out, errorBox(e));
    } finally {
      busy = false;
      updateButtons();
    }
  }

  dryBtn.addEventListener('click', () => run(async () => {
    const source = text.value;
    const units = splitManifest(source);
    if (!units.length) {
      replace(out, errorBox({message: 'The manifest holds no document.'}, 'Nothing to check'));
      return;
    }
    hint.textContent = `Checking ${units.length} ${units.length > 1 ? 'objects' : 'object'}…`;
    const results = [];
    for (const u of units) results.push(await dryRunUnit(u));
    checked = {text: source, units, results};
    hint.textContent = results.every(r => r.ok) ? 'Dry run passed: apply when ready.' : 'Fix the problems and run the dry run again.';
    renderResults(source, results, false);
    out.querySelector('h2').focus();
  }));

  applyBtn.addEventListener('click', () => run(async () => {
    if (!checked || checked.text !== text.value) return;
    hint.textContent = 'Applying…';
    const results = [];
    for (const r of checked.results) results.push(await applyUnit(r));
    checked = null;
    hint.textContent = '';
    renderResults(text.value, results, true);
    out.querySelector('h2').focus();
  }));

  clearBtn.addEventListener('click', () => { checked = null; errorLines = new Set(); setText(''); replace(out); hint.textContent = ''; text.focus(); });
  exampleBtn.addEventListener('click', () => { checked = null; setText(EXAMPLE); text.focus(); });

  text.addEventListener('input', onEdit);
  text.addEventListener('scroll', () => { gutter.scrollTop = text.scrollTop; });

  async function load(file) {
    if (!file) return;
    if (file.size > MAX_UPLOAD) {
      replace(out, errorBox({message: `${file.name} is ${file.size} bytes; the console reads files up to ${MAX_UPLOAD} bytes (the server takes 1 MiB per Run).`}, 'File too large'));
      return;
    }
    checked = null;
    setText(await file.text());
    hint.textContent = `Loaded ${file.name}.`;
  }
  fileInput.addEventListener('change', () => load(fileInput.files[0]));
  editor.addEventListener('dragover', ev => { ev.preventDefault(); editor.classList.add('dropping'); });
  editor.addEventListener('dragleave', () => editor.classList.remove('dropping'));
  editor.addEventListener('drop', ev => {
    ev.preventDefault();
    editor.classList.remove('dropping');
    load(ev.dataTransfer.files[0]);
  });

  text.value = sessionStorage.getItem(DRAFT_KEY) || '';
  onEdit();

  return {unmount() {}};
}

export default {mount};
