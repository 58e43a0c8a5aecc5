// The Schedule page: one Schedule's status, spec, events and Runs, live
// from a watch on its name and one on its Runs (label sprint/schedule);
// suspend/resume (apply with spec.suspend), run now (the fire-now
// endpoint) and delete (its Runs deleted, or kept as orphans).

import {h, replace, errorBox, confirmDialog} from '../dom.js';
import {Informer, sleep} from '../watch.js';
import {toYAML} from '../yaml.js';
import {EventsView} from '../events.js';
import {phaseOf, phaseBadge, when, age, until, labelText, validName} from '../format.js';
import {LABEL, trigger, historyStrip, groupRuns} from './schedules.js';

// manifestOf is the part of a Schedule a user writes.
export function scheduleManifest(sc) {
  const meta = {name: sc.metadata.name};
  if (sc.metadata.labels && Object.keys(sc.metadata.labels).length) meta.labels = sc.metadata.labels;
  if (sc.metadata.annotations && Object.keys(sc.metadata.annotations).length) meta.annotations = sc.metadata.annotations;
  return {apiVersion: sc.apiVersion || 'sprint/v1', kind: 'Schedule', metadata: meta, spec: sc.spec};
}

function dl(pairs) {
  return h('dl', {class: 'kv'}, pairs.filter(p => p[1] !== undefined && p[1] !== null && p[1] !== '' && !(Array.isArray(p[1]) && !p[1].length))
    .map(([k, v]) => [h('dt', {text: k}), h('dd', null, v)]));
}

// stamp shows a time and how far it is from now; tick() keeps the
// latter current.
const relative = (ts, future) => (future ? until(ts) : age(ts) + ' ago');
const stamp = (ts, future) => (ts ? h('time', {datetime: ts, dataset: {future: future ? '1' : ''}},
  new Date(ts).toLocaleString(), ' (', h('span', {class: 'rel', text: relative(ts, future)}), ')') : '');

function tick(root) {
  for (const t of root.querySelectorAll('time[datetime]')) {
    const rel = t.querySelector('.rel');
    if (rel) rel.textContent = relative(t.getAttribute('datetime'), t.dataset.future === '1');
  }
}

function mount(el, ctx, params) {
  const name = params[0];
  const path = `/api/v1/schedules/${encodeURIComponent(name)}`;
  ctx.setTitle(name);
  if (!validName(name)) {
    el.append(h('p', {class: 'crumbs'}, h('a', {href: '#/schedules', text: 'Schedules'})),
      h('h1', {tabindex: '-1', text: 'No such Schedule'}),
      h('div', {class: 'box error', role: 'alert'}, h('code', {text: name}), ' is not a Schedule name (lower-case letters, digits and "-", at most 63).'));
    return {unmount() {}};
  }

  const badge = h('span');
  const suspendBtn = h('button', {type: 'button', id: 'suspend', hidden: true});
  const fireBtn = h('button', {type: 'button', id: 'run-now', text: 'Run now', hidden: true});
  const deleteBtn = h('button', {type: 'button', id: 'delete', class: 'danger', text: 'Delete…', hidden: true});
  const notice = h('div', {id: 'schedule-notice'});
  const statusBox = h('div', {id: 'schedule-status'}, h('p', {class: 'muted', text: 'Loading…'}));
  const runsBox = h('div', {id: 'schedule-runs'});
  const specBox = h('pre', {class: 'code', tabindex: '0', 'aria-label': 'Spec as YAML', id: 'spec-yaml'});
  const events = new EventsView(ctx.api, path, {id: 'schedule-events'});
  // Events are read soon after the Schedule changes, not once it is gone.
  const scheduleEvents = () => { if (!gone) events.schedule(); };

  el.append(
    h('p', {class: 'crumbs'}, h('a', {href: '#/schedules', text: 'Schedules'}), ' / ', name),
    h('h1', {tabindex: '-1'}, h('span', {text: name}), badge),
    h('div', {class: 'buttons', role: 'group', 'aria-label': 'Actions'}, suspendBtn, fireBtn, deleteBtn),
    notice,
    h('div', {class: 'grid2'},
      h('div', null,
        h('section', {'aria-labelledby': 'status-title'}, h('h2', {id: 'status-title', text: 'Status'}), statusBox),
        h('section', {'aria-labelledby': 'runs-title'}, h('h2', {id: 'runs-title', text: 'Runs'}), runsBox),
        h('section', {'aria-labelledby': 'events-title'}, h('h2', {id: 'events-title', text: 'Events'}), events.el)),
      h('section', {'aria-labelledby': 'spec-title'}, h('h2', {id: 'spec-title', text: 'Spec'}), specBox)));

  let sc = null;
  let seen = false;
  let gone = false;
  let lastVersion = '';

  function render() {
    sc = inf.items.get(name) || null;
    if (!sc) {
      if (!inf.synced) return;
      [suspendBtn, fireBtn, deleteBtn].forEach(b => { b.hidden = true; });
      replace(badge);
      if (!gone) {
        replace(notice, seen
          ? h('div', {class: 'box warn', role: 'status'}, 'This Schedule was deleted. ', h('a', {href: '#/schedules', text: 'Back to Schedules'}))
          : h('div', {class: 'box error', role: 'alert'}, 'There is no Schedule named ', h('code', {text: name}), '. ', h('a', {href: '#/schedules', text: 'Back to Schedules'})));
      }
      replace(statusBox);
      events.stop();
      renderRuns();
      return;
    }
    seen = true;
    const st = sc.status || {};
    const s = sc.spec;
    replace(badge, s.suspend ? h('span', {class: 'tag bad', id: 'suspended-tag', text: 'suspended'}) : null);
    suspendBtn.hidden = false;
    suspendBtn.textContent = s.suspend ? 'Resume' : 'Suspend';
    suspendBtn.dataset.suspend = String(!!s.suspend);
    fireBtn.hidden = false;
    deleteBtn.hidden = false;
    replace(statusBox, dl([
      ['Fires', h('code', {text: trigger(sc)})],
      ['Time zone', s.schedule ? s.timeZone || 'UTC' : ''],
      ['Suspended', s.suspend ? 'yes: it does not fire (Run now still does)' : 'no'],
      ['Next firing', s.suspend ? '' : st.nextScheduleTime ? h('span', {id: 'next-firing'}, stamp(st.nextScheduleTime, true)) : '—'],
      ['Last firing', st.lastScheduleTime ? stamp(st.lastScheduleTime) : 'never'],
      ['Last success', st.lastSuccessfulTime ? stamp(st.lastSuccessfulTime) : ''],
      ['Active', (st.active || []).length ? (st.active || []).map((n, i) => [i ? ', ' : '', h('a', {href: '#/runs/' + encodeURIComponent(n), text: n})]) : 'none'],
      ['Missed firings', st.missedFirings ? String(st.missedFirings) : ''],
      ['Message', st.message],
      ['Parallelism', String(s.parallelism || 1)],
      ['Concurrency', s.concurrencyPolicy || 'Allow'],
      ['Starting deadline', s.startingDeadlineSeconds !== undefined && s.startingDeadlineSeconds !== null ? `${s.startingDeadlineSeconds}s` : ''],
      ['History kept', `${s.successfulRunsHistoryLimit ?? 3} succeeded, ${s.failedRunsHistoryLimit ?? 1} failed`],
      ['Labels', labelText(sc.metadata.labels).map(t => h('span', {class: 'label', text: t}))],
      ['Created', when(sc.metadata.creationTimestamp)],
      ['UID', sc.metadata.uid ? h('code', {text: sc.metadata.uid}) : ''],
      ['Version', sc.metadata.resourceVersion],
    ]));
    specBox.textContent = toYAML(scheduleManifest(sc));
    if (sc.metadata.resourceVersion !== lastVersion) {
      lastVersion = sc.metadata.resourceVersion;
      scheduleEvents();
    }
  }

  function renderRuns() {
    const list = groupRuns(runs.items).get(name) || [];
    if (!runs.synced && !list.length) {
      replace(runsBox, h('p', {class: 'muted', text: 'Loading…'}));
      return;
    }
    if (!list.length) {
      replace(runsBox, h('p', {class: 'muted', text: 'No Runs: it has not fired yet, or its history limits removed them.'}));
      return;
    }
    const owned = r => (r.metadata.ownerReferences || []).some(o => o.kind === 'Schedule' && o.name === name && (!sc || o.uid === sc.metadata.uid));
    replace(runsBox,
      h('p', null, historyStrip(list)),
      h('table', {class: 'plain', 'aria-label': `Runs of ${name}`},
        h('thead', null, h('tr', null, ['Run', 'Phase', 'Reason', 'Age', 'Exit'].map(t => h('th', {scope: 'col', text: t})))),
        h('tbody', null, list.map(r => h('tr', {dataset: {run: r.metadata.name}},
          h('td', null, h('a', {href: '#/runs/' + encodeURIComponent(r.metadata.name), text: r.metadata.name}),
            owned(r) ? '' : h('span', {class: 'muted', text: ' (not owned)', title: 'Labelled with this Schedule, without its owner reference: an orphan of an earlier Schedule of this name, or made by hand'})),
          h('td', null, phaseBadge(phaseOf(r))),
          h('td', {text: (r.status && r.status.reason) || ''}),
          h('td', {title: r.metadata.creationTimestamp, text: age(r.metadata.creationTimestamp)}),
          h('td', {class: 'num', text: r.status && r.status.exitCode !== undefined && r.status.exitCode !== null ? String(r.status.exitCode) : ''}))))));
  }

  const inf = new Informer(ctx.api, {path: '/api/v1/schedules', query: {fieldSelector: `metadata.name=${name}`}, firstPage: 1});
  const runs = new Informer(ctx.api, {path: '/api/v1/runs', query: {labelSelector: `${LABEL}=${name}`}});
  const onState = (s, d) => {
    ctx.setConn(inf.state === 'live' && runs.state !== 'live' ? runs.state : inf.state, d);
    if (s === 'error' && d && d.code >= 400 && d.code !== 401) replace(notice, errorBox(d, 'Cannot watch this Schedule'));
  };
  const offs = [
    inf.listen({change: render, state: onState}),
    runs.listen({change: renderRuns, state: onState}),
  ];
  inf.start();
  runs.start();

  async function act(button, fn) {
    button.disabled = true;
    try {
      await fn();
    } catch (e) {
      if (e.name !== 'AbortError') replace(notice, errorBox(e));
    } finally {
      button.disabled = false;
    }
  }

  // Suspend and resume apply the stored Schedule with spec.suspend
  // flipped and its uid as the precondition: the Schedule read, not one
  // recreated under its name. Not its resourceVersion: the controller
  // bumps that with every status write (each Run that starts or ends),
  // so it would conflict whenever Runs are busy; the spec sent is the one
  // just read.
  suspendBtn.addEventListener('click', () => act(suspendBtn, async () => {
    const want = suspendBtn.dataset.suspend !== 'true';
    for (let attempt = 0; ; attempt++) {
      const cur = await ctx.api.get(path);
      if (!!cur.spec.suspend === want) return;
      const body = scheduleManifest(cur);
      body.metadata.uid = cur.metadata.uid;
      body.spec = {...cur.spec, suspend: want};
      try {
        await ctx.api.json('PUT', path, {body});
        replace(notice, h('div', {class: 'box ok', role: 'status'}, want ? 'Suspended: it fires no more until resumed. Live Runs go on.' : 'Resumed.'));
        return;
      } catch (e) {
        if (e.code !== 409 || attempt >= 5) throw e;
      }
    }
  }));

  // Runs fired by hand carry a random part in their names
  // (NAME-m<id>-<i>), so a second click in the same second is another
  // firing; a 409 (a server before that, which named them by the second)
  // is sent again once the next second has begun.
  fireBtn.addEventListener('click', () => act(fireBtn, async () => {
    let list;
    try {
      list = await ctx.api.json('POST', path + '/runs');
    } catch (e) {
      if (e.code !== 409) throw e;
      await sleep(1050 - Date.now() % 1000);
      list = await ctx.api.json('POST', path + '/runs');
    }
    const made = (list && list.items) || [];
    replace(notice, h('div', {class: 'box ok', role: 'status', id: 'fired'},
      made.length === 1 ? 'Created ' : `Created ${made.length} Runs: `,
      made.map((r, i) => [i ? ', ' : '', h('a', {href: '#/runs/' + encodeURIComponent(r.metadata.name), text: r.metadata.name})]),
      '.'));
  }));

  deleteBtn.addEventListener('click', async () => {
    const body = h('div', null,
      h('p', {text: 'The Schedule fires no more. What happens to the Runs it fired?'}),
      h('fieldset', {class: 'choices'},
        h('legend', {text: 'Its Runs'}),
        h('label', {class: 'check'}, h('input', {type: 'radio', name: 'propagation', value: 'Background', checked: true}),
          ' Delete them too (live tasks are killed first)'),
        h('label', {class: 'check'}, h('input', {type: 'radio', name: 'propagation', value: 'Orphan'}),
          ' Keep them (they lose their owner, keep their label)')));
    const ok = await confirmDialog({title: `Delete ${name}?`, body, confirm: 'Delete', danger: true});
    if (!ok) return;
    const policy = body.querySelector('input[name="propagation"]:checked').value;
    await act(deleteBtn, async () => {
      // No events read races the deletion (it would end in a 404).
      events.stop();
      gone = true;
      try {
        await ctx.api.json('DELETE', path, {query: policy === 'Orphan' ? {propagationPolicy: 'Orphan'} : {}});
      } catch (e) {
        gone = false;
        scheduleEvents();
        throw e;
      }
      replace(notice, h('div', {class: 'box warn', role: 'status', id: 'deleted'},
        policy === 'Orphan' ? 'Deleted; its Runs were kept. ' : 'Deleted, with its Runs. ', h('a', {href: '#/schedules', text: 'Back to Schedules'})));
    });
  });

  const ticker = setInterval(() => tick(statusBox), 1000);

  return {
    unmount() {
      clearInterval(ticker);
      offs.forEach(off => off());
      inf.stop();
      runs.stop();
      events.stop();
    },
  };
}

export default {mount};
