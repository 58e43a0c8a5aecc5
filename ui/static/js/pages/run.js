// The Run page: status, spec as YAML, events, its pipeline and the log of
// one Run, live from a watch on that name; kill, delete and re-run.

import {h, replace, errorBox, confirmDialog, promptDialog} from '../dom.js';
import {Informer} from '../watch.js';
import {shareAll, release} from '../runstore.js';
import {LogView} from '../logview.js';
import {toYAML} from '../yaml.js';
import {TERMINAL, phaseOf, phaseBadge, when, labelText, DNS_LABEL} from '../format.js';
import {PipelineView} from '../pipeline.js';
import {EventsView} from '../events.js';

export const DRAFT_KEY = 'sprint.apply.draft';

// manifestOf is the part of a Run a user writes: what re-applying needs.
export function manifestOf(run) {
  const meta = {name: run.metadata.name};
  if (run.metadata.labels && Object.keys(run.metadata.labels).length) meta.labels = run.metadata.labels;
  if (run.metadata.annotations && Object.keys(run.metadata.annotations).length) meta.annotations = run.metadata.annotations;
  return {apiVersion: run.apiVersion || 'sprint/v1', kind: 'Run', metadata: meta, spec: run.spec};
}

// nextName suggests a name for a re-run: hello → hello-2, hello-2 → hello-3.
export function nextName(name) {
  const m = /^(.*)-(\d+)$/.exec(name);
  const cand = m ? `${m[1]}-${Number(m[2]) + 1}` : `${name}-2`;
  return cand.length > 63 ? cand.slice(cand.length - 63).replace(/^-+/, '') : cand;
}

function dl(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter(p => p[1] !== undefined && p[1] !== null && p[1] !== '' && !(Array.isArray(p[1]) && !p[1].length))
    .map(([k, v]) => [h('dt', {text: k}), h('dd', null, v)]));
}

function mount(el, ctx, params) {
  const name = params[0];
  const path = `/api/v1/runs/${encodeURIComponent(name)}`;
  ctx.setTitle(name);
  if (!DNS_LABEL.test(name) || name.length > 63) {
    el.append(h('p', {class: 'crumbs'}, h('a', {href: '#/runs', text: 'Runs'})),
      h('h1', {tabindex: '-1', text: 'No such Run'}),
      h('div', {class: 'box error', role: 'alert'}, h('code', {text: name}), ' is not a Run name (lower-case letters, digits and "-", at most 63).'));
    return {unmount() {}};
  }

  const badge = h('span');
  const killBtn = h('button', {type: 'button', id: 'kill', class: 'danger', text: 'Kill', hidden: true});
  const deleteBtn = h('button', {type: 'button', id: 'delete', class: 'danger', text: 'Delete', hidden: true});
  const rerunBtn = h('button', {type: 'button', id: 'rerun', text: 'Re-run…', hidden: true});
  const editBtn = h('button', {type: 'button', id: 'edit', text: 'Edit in Apply', hidden: true});
  const notice = h('div');
  const statusBox = h('div', null, h('p', {class: 'muted', text: 'Loading…'}));
  const specBox = h('pre', {class: 'code', tabindex: '0', 'aria-label': 'Spec as YAML', id: 'spec-yaml'});
  const events = new EventsView(ctx.api, path, {extra: signal => probeDependents(signal)});
  const log = new LogView(ctx.api, name);
  log.el.hidden = true;
  const pipelineBox = h('div');
  const pipelineSection = h('section', {'aria-labelledby': 'pipeline-title', id: 'pipeline', hidden: true},
    h('h2', {id: 'pipeline-title'}, 'Pipeline ', h('a', {class: 'small', href: '#/pipelines/' + encodeURIComponent(name), text: 'Open the whole pipeline'})),
    pipelineBox);

  el.append(
    h('p', {class: 'crumbs'}, h('a', {href: '#/runs', text: 'Runs'}), ' / ', name),
    h('h1', {tabindex: '-1'}, h('span', {text: name}), badge),
    h('div', {class: 'buttons', role: 'group', 'aria-label': 'Actions'}, killBtn, deleteBtn, rerunBtn, editBtn),
    notice,
    h('div', {class: 'grid2'},
      h('div', null,
        h('section', {'aria-labelledby': 'status-title'}, h('h2', {id: 'status-title', text: 'Status'}), statusBox),
        h('section', {'aria-labelledby': 'events-title'}, h('h2', {id: 'events-title', text: 'Events'}), events.el)),
      h('div', null,
        h('section', {'aria-labelledby': 'spec-title'}, h('h2', {id: 'spec-title', text: 'Spec'}), specBox),
        pipelineSection)),
    log.el);

  let run = null;
  let seen = false;
  let deleting = false;

  function render() {
    run = inf.items.get(name) || null;
    if (!run) {
      if (!inf.synced) return;
      [killBtn, deleteBtn, rerunBtn].forEach(b => { b.hidden = true; });
      replace(badge);
      replace(notice, seen
        ? h('div', {class: 'box warn', role: 'status'}, 'This Run was deleted. ', h('a', {href: '#/runs', text: 'Back to Runs'}))
        : h('div', {class: 'box error', role: 'alert'}, 'There is no Run named ', h('code', {text: name}), '. ', h('a', {href: '#/runs', text: 'Back to Runs'})));
      replace(statusBox);
      log.stop();
      events.stop();
      stopPipeline();
      return;
    }
    seen = true;
    const st = run.status || {};
    const phase = phaseOf(run);
    const terminal = TERMINAL.has(phase);
    replace(badge, phaseBadge(phase));
    killBtn.hidden = terminal || !!run.spec.cancel;
    deleteBtn.hidden = false;
    rerunBtn.hidden = false;
    editBtn.hidden = false;
    deleteBtn.disabled = !!run.metadata.deletionTimestamp;
    if (run.metadata.deletionTimestamp) {
      replace(notice, h('div', {class: 'box warn', role: 'status'}, `Being deleted since ${when(run.metadata.deletionTimestamp)}: the task is killed first.`));
    } else if (run.spec.cancel && !terminal) {
      replace(notice, h('div', {class: 'box warn', role: 'status'}, 'Kill requested: waiting for Mesos to confirm the task is gone.'));
    } else if (!deleting) {
      replace(notice);
    }
    replace(statusBox, dl([
      ['Phase', phase],
      ['Reason', st.reason],
      ['Message', st.message],
      ['Attempts', String(st.attempts || 0)],
      ['Exit code', st.exitCode !== undefined && st.exitCode !== null ? String(st.exitCode) : ''],
      ['Host', st.hostname],
      ['Ports', (st.ports || []).join(', ')],
      ['Mesos state', st.mesosState],
      ['Task ID', st.taskID ? h('code', {text: st.taskID}) : ''],
      ['Agent ID', st.agentID ? h('code', {text: st.agentID}) : ''],
      ['Created', when(run.metadata.creationTimestamp)],
      ['Started', st.startTime ? when(st.startTime) : ''],
      ['Finished', st.completionTime ? when(st.completionTime) : ''],
      ['Labels', labelText(run.metadata.labels).map(t => h('span', {class: 'label', text: t}))],
      ['UID', run.metadata.uid ? h('code', {text: run.metadata.uid}) : ''],
      ['Version', run.metadata.resourceVersion],
    ]));
    specBox.textContent = toYAML(manifestOf(run));
    log.el.hidden = false;
    log.update(run);
    events.schedule();
    if (run.spec.dependsOn && run.spec.dependsOn.length) startPipeline();
  }

  // The pipeline is followed (a watch of its own) only when this Run is
  // part of one: it depends on Runs, or Runs depend on it (asked along
  // with the events, every 10 s, until some do).
  let pipeline = null;
  function startPipeline() {
    if (pipeline) return;
    pipeline = new PipelineView(ctx.api, name, 'run');
    replace(pipelineBox, pipeline.el);
    pipelineSection.hidden = false;
  }
  function stopPipeline() {
    if (pipeline) pipeline.stop();
    pipeline = null;
  }
  async function probeDependents(signal) {
    if (pipeline) return;
    try {
      const tree = await ctx.api.get(path + '/dependents', {signal});
      if (tree.dependents && tree.dependents.length) startPipeline();
    } catch (e) {
      if (e.name === 'AbortError' || e.code === 404) return;
      throw e;
    }
  }

  // The Runs page's informer when it holds every Run; else a watch of
  // this name alone.
  const shared = shareAll();
  const inf = shared || new Informer(ctx.api, {path: '/api/v1/runs', query: {fieldSelector: `metadata.name=${name}`}, firstPage: 1});
  const off = inf.listen({
    change: render,
    state: (s, d) => {
      ctx.setConn(s, d);
      if (s === 'error' && d && d.code >= 400 && d.code !== 401) replace(notice, errorBox(d, 'Cannot watch this Run'));
    },
  });
  if (shared) {
    ctx.setConn(shared.state);
    render();
  } else {
    inf.start();
  }

  async function act(button, fn) {
    button.disabled = true;
    try {
      await fn();
    } catch (e) {
      if (e.name !== 'AbortError') replace(notice, errorBox(e));
    } finally {
      button.disabled = false;
      render();
    }
  }

  killBtn.addEventListener('click', async () => {
    const ok = await confirmDialog({title: `Kill ${name}?`, confirm: 'Kill',
      body: 'Sprint asks Mesos to kill the task (spec.cancel). The Run ends Killed; its record, events and log stay.', danger: true});
    if (!ok) return;
    await act(killBtn, async () => {
      for (let attempt = 0; ; attempt++) {
        const cur = await ctx.api.get(path);
        if (cur.spec.cancel || TERMINAL.has(phaseOf(cur))) return;
        cur.spec.cancel = true;
        try {
          await ctx.api.json('PUT', path, {body: cur});
          replace(notice, h('div', {class: 'box warn', role: 'status'}, 'Kill requested: waiting for Mesos to confirm the task is gone.'));
          return;
        } catch (e) {
          if (e.code !== 409 || attempt >= 5) throw e; // 409: the status moved on; read again
        }
      }
    });
  });

  deleteBtn.addEventListener('click', async () => {
    const ok = await confirmDialog({title: `Delete ${name}?`, confirm: 'Delete', danger: true,
      body: 'A running task is killed first; then the Run, its events and its record are removed. Its log goes with the Mesos sandbox.'});
    if (!ok) return;
    await act(deleteBtn, async () => {
      const res = await ctx.api.json('DELETE', path, {withHeaders: true});
      deleting = true;
      replace(notice, h('div', {class: 'box warn', role: 'status'},
        res.status === 202 ? 'Deleting: the task is being killed first.' : 'Deleted.'));
    });
  });

  rerunBtn.addEventListener('click', async () => {
    if (!run) return;
    const source = run;
    const newName = await promptDialog({
      title: `Re-run ${name}`, label: 'Name of the new Run', value: nextName(name), confirm: 'Create',
      help: 'A copy of this Run’s labels, annotations and spec, applied under a new name.',
      validate: async v => {
        if (!DNS_LABEL.test(v) || v.length > 63) return 'A name is lower-case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters.';
        const m = manifestOf(source);
        m.metadata = {...m.metadata, name: v};
        m.spec = {...m.spec};
        delete m.spec.cancel;
        try {
          await ctx.api.json('POST', '/api/v1/runs', {body: m});
        } catch (e) {
          if (e.code === 409) return `A Run named ${v} already exists: choose another name.`;
          return e.message + (e.causes && e.causes.length ? ': ' + e.causes.map(c => `${c.field}: ${c.message}`).join('; ') : '');
        }
        return '';
      },
    });
    if (newName) ctx.navigate('#/runs/' + encodeURIComponent(newName));
  });

  editBtn.addEventListener('click', () => {
    if (!run) return;
    sessionStorage.setItem(DRAFT_KEY, toYAML(manifestOf(run)));
    ctx.navigate('#/apply');
  });

  return {
    unmount() {
      off();
      if (shared) release(shared);
      else inf.stop();
      log.stop();
      events.stop();
      stopPipeline();
    },
  };
}

export default {mount};
