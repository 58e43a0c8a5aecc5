// The Cluster page: the Raft view of the node serving the console, the
// Mesos side as the leader knows it (connection, framework, agents and
// their free resources), and the Notifiers' delivery counts. All are
// polled while the page is open.

import {h, replace, errorBox} from '../dom.js';
import {num, fixed, age} from '../format.js';

const RAFT_EVERY = 2000;
const MESOS_EVERY = 5000;
const NOTIFIERS_EVERY = 5000;

// redactURL keeps a webhook URL's origin only: the path and query of
// Slack and many other hooks are their secret.
function redactURL(u) {
  try {
    const url = new URL(u);
    return url.origin + (url.pathname !== '/' || url.search ? '/…' : '');
  } catch {
    return '(an invalid URL)';
  }
}

// target says where a Notifier delivers, without secrets (headers and
// credential files are not shown).
function target(spec) {
  if (spec.webhook) return `${spec.webhook.format || 'json'} webhook ${redactURL(spec.webhook.url)}`;
  if (spec.email) return `email to ${(spec.email.to || []).join(', ')} via ${spec.email.smtp}`;
  return '—';
}

function card(k, v) {
  return h('div', {class: 'card'}, h('div', {class: 'k', text: k}), h('div', {class: 'v'}, v));
}

function meter(used, total, label) {
  const pct = total > 0 ? Math.min(100, Math.round(used / total * 100)) : 0;
  const bar = h('span');
  bar.style.width = pct + '%';
  return h('span', {class: 'meter', role: 'img', 'aria-label': `${label}: ${pct}% used`}, bar);
}

function resCell(free, total, unit, label) {
  return h('td', {class: 'num'}, `${fixed(free)} / ${fixed(total)}${unit}`, meter(total - free, total, label));
}

// poller calls fn now and then every ms while the tab is visible; it
// returns a stop function.
function poller(fn, ms) {
  let timer = 0, stopped = false;
  const tick = async () => {
    if (stopped) return;
    if (document.visibilityState === 'visible') await fn();
    if (!stopped) timer = setTimeout(tick, ms);
  };
  const onVisible = () => { if (document.visibilityState === 'visible' && !stopped) { clearTimeout(timer); tick(); } };
  document.addEventListener('visibilitychange', onVisible);
  tick();
  return () => { stopped = true; clearTimeout(timer); document.removeEventListener('visibilitychange', onVisible); };
}

function mount(el, ctx) {
  ctx.setTitle('Cluster');
  const raftBox = h('div', null, h('p', {class: 'muted', text: 'Loading…'}));
  const mesosBox = h('div', null, h('p', {class: 'muted', text: 'Loading…'}));
  const policyBox = h('div', null, h('p', {class: 'muted', text: 'Loading…'}));
  const notifiersBox = h('div', {id: 'notifiers'}, h('p', {class: 'muted', text: 'Loading…'}));
  el.append(
    h('h1', {tabindex: '-1', text: 'Cluster'}),
    h('section', {'aria-labelledby': 'raft-title'}, h('h2', {id: 'raft-title', text: 'Raft'}), raftBox),
    h('section', {'aria-labelledby': 'mesos-title'}, h('h2', {id: 'mesos-title', text: 'Mesos'}), mesosBox),
    h('section', {'aria-labelledby': 'notifiers-title'}, h('h2', {id: 'notifiers-title', text: 'Notifiers'}), notifiersBox),
    h('section', {'aria-labelledby': 'policy-title'}, h('h2', {id: 'policy-title', text: 'Admission policy'}), policyBox));
  const ctl = new AbortController();

  async function loadRaft() {
    try {
      const c = await ctx.api.get('/api/v1/cluster', {signal: ctl.signal});
      ctx.setConn('live');
      const lag = Math.max(0, (c.commitIndex || 0) - (c.appliedIndex || 0));
      replace(raftBox,
        h('div', {class: 'cards'},
          card('State', c.state || '—'),
          card('Term', num(c.term)),
          card('Commit index', num(c.commitIndex)),
          card('Applied index', [num(c.appliedIndex), lag ? h('span', {class: 'muted', text: ` (${num(lag)} behind)`}) : '']),
          card('Last log index', num(c.lastIndex)),
          card('Members', num((c.members || []).length))),
        h('dl', {class: 'kv'},
          h('dt', {text: 'This node'}), h('dd', {text: c.nodeID || '—'}),
          h('dt', {text: 'Leader'}), h('dd', {text: c.leader ? `${c.leader}${c.leaderAddr ? ' (' + c.leaderAddr + ')' : ''}` : 'none known'})),
        h('table', {class: 'plain', 'aria-label': 'Raft members'},
          h('thead', null, h('tr', null, ['Member', 'Role', 'Raft address', 'API address', 'Suffrage'].map(t => h('th', {scope: 'col', text: t})))),
          h('tbody', null, (c.members || []).map(m => h('tr', null,
            h('td', null, m.id, m.id === c.nodeID ? h('span', {class: 'muted', text: ' (this node)'}) : ''),
            h('td', {text: m.leader ? 'leader' : 'follower'}),
            h('td', null, h('code', {text: m.raftAddr})),
            h('td', null, m.httpAddr ? h('code', {text: m.httpAddr}) : '—'),
            h('td', {text: m.suffrage}))))));
    } catch (e) {
      if (e.name === 'AbortError') return;
      ctx.setConn('error', e);
      if (e.code !== 401) replace(raftBox, errorBox(e, 'Cannot read the cluster state'));
    }
  }

  async function loadMesos() {
    try {
      const m = await ctx.api.get('/api/v1/cluster/mesos', {signal: ctl.signal});
      const agents = m.agents || [];
      const total = agents.reduce((a, x) => ({cpus: a.cpus + x.total.cpus, mem: a.mem + x.total.mem, freeC: a.freeC + x.free.cpus, freeM: a.freeM + x.free.mem}),
        {cpus: 0, mem: 0, freeC: 0, freeM: 0});
      replace(mesosBox,
        h('div', {class: 'cards'},
          card('Connection', h('span', {class: m.connected ? 'phase phase-Succeeded' : 'phase phase-Failed', text: m.connected ? 'Subscribed' : 'Not subscribed'})),
          card('Agents', `${agents.filter(a => a.active).length} active of ${agents.length}`),
          card('Free CPUs', `${fixed(total.freeC)} / ${fixed(total.cpus)}`),
          card('Free memory', `${num(Math.round(total.freeM))} / ${num(Math.round(total.mem))} MiB`)),
        h('dl', {class: 'kv'},
          h('dt', {text: 'Framework'}), h('dd', {text: `${m.frameworkName || '—'} (role ${m.role || '*'})`}),
          h('dt', {text: 'Framework ID'}), h('dd', null, m.frameworkID ? h('code', {text: m.frameworkID}) : '— (not registered yet)'),
          h('dt', {text: 'Masters'}), h('dd', {text: (m.masters || []).join(', ') + (m.embedded ? ' (the embedded simulator)' : '')}),
          h('dt', {text: 'Reported by'}), h('dd', {text: `${m.nodeID || '—'}, the Raft leader, which holds the subscription`})),
        m.agentsError ? errorBox({message: m.agentsError}, 'The Mesos master did not list its agents') : null,
        agents.length ? h('table', {class: 'plain', 'aria-label': 'Mesos agents'},
          h('thead', null, h('tr', null, ['Agent', 'Active', 'Free CPUs', 'Free memory', 'Free disk', 'GPUs', 'Ports', 'Attributes']
            .map(t => h('th', {scope: 'col', text: t})))),
          h('tbody', null, agents.map(a => h('tr', null,
            h('td', null, a.hostname, h('br'), h('code', {class: 'muted', text: a.id})),
            h('td', {text: a.active ? 'yes' : 'no'}),
            resCell(a.free.cpus, a.total.cpus, '', 'CPUs'),
            resCell(a.free.mem, a.total.mem, ' MiB', 'memory'),
            resCell(a.free.disk, a.total.disk, ' MiB', 'disk'),
            h('td', {class: 'num', text: a.total.gpus ? `${fixed(a.free.gpus)} / ${fixed(a.total.gpus)}` : '—'}),
            h('td', null, a.total.ports ? h('code', {text: a.total.ports}) : '—'),
            h('td', {text: Object.entries(a.attributes || {}).map(([k, v]) => `${k}:${v}`).join(', ') || '—'})))))
          : (m.agentsError ? null : h('p', {class: 'muted', text: 'The master reports no agents.'})));
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.code !== 401) replace(mesosBox, errorBox(e, 'Cannot read the Mesos state'));
    }
  }

  // Notifiers are few: one list (all pages) per poll.
  async function loadNotifiers() {
    try {
      const items = [];
      let cont = '';
      do {
        const page = await ctx.api.get('/api/v1/notifiers', {query: {limit: 500, continue: cont}, signal: ctl.signal});
        items.push(...(page.items || []));
        cont = page.metadata && page.metadata.continue;
      } while (cont);
      const sum = items.reduce((a, n) => ({d: a.d + (n.status.delivered || 0), f: a.f + (n.status.failed || 0), p: a.p + (n.status.pending || 0)}), {d: 0, f: 0, p: 0});
      replace(notifiersBox, items.length
        ? [h('div', {class: 'cards'},
          card('Notifiers', num(items.length)),
          card('Delivered', num(sum.d)),
          card('Failed', sum.f ? h('span', {class: 'bad-count', text: num(sum.f)}) : '0'),
          card('Pending', num(sum.p))),
        h('table', {class: 'plain', 'aria-label': 'Notifiers'},
          h('thead', null, h('tr', null, ['Notifier', 'Target', 'On', 'Delivered', 'Failed', 'Pending', 'Last error']
            .map(t => h('th', {scope: 'col', text: t})))),
          h('tbody', null, items.map(n => {
            const st = n.status || {};
            return h('tr', {dataset: {name: n.metadata.name}},
              h('td', {class: 'nowrap', text: n.metadata.name}),
              h('td', null, h('code', {text: target(n.spec)})),
              h('td', {text: (n.spec.on || []).join(', ')}),
              h('td', {class: 'num delivered', text: num(st.delivered)}),
              h('td', {class: 'num failed', text: num(st.failed)}),
              h('td', {class: 'num pending', text: num(st.pending)}),
              h('td', null, st.lastError ? [h('span', {class: 'error-text', text: st.lastError}),
                st.lastErrorTime ? h('span', {class: 'muted', title: st.lastErrorTime, text: ` (${age(st.lastErrorTime)} ago)`}) : ''] : '—'));
          })))]
        : h('p', {class: 'muted', text: 'No Notifiers. Apply a manifest of kind Notifier to be told when Runs fail or succeed.'}));
    } catch (e) {
      if (e.name === 'AbortError' || e.code === 401) return;
      replace(notifiersBox, errorBox(e, 'Cannot read the Notifiers'));
    }
  }

  // The policy comes from the leader's flags: read once per visit.
  async function loadPolicy() {
    try {
      const p = await ctx.api.get('/api/v1/policy', {signal: ctl.signal});
      const paths = (p.allowedHostPaths || []).map(a => a.pathPrefix + (a.readOnly ? ' (read-only)' : ''));
      replace(policyBox, h('dl', {class: 'kv'},
        h('dt', {text: 'Host path volumes'}), h('dd', {text: paths.length ? paths.join(', ') : 'none allowed'}),
        h('dt', {text: 'Privileged'}), h('dd', {text: p.allowPrivileged ? 'allowed' : 'refused (privileged Docker parameters, root command tasks)'}),
        h('dt', {text: 'URI schemes'}), h('dd', {text: (p.allowedURISchemes || []).join(', ') || 'none allowed'}),
        h('dt', {text: 'Notifier secret files'}), h('dd', {text: p.notifierSecretDir ? `in ${p.notifierSecretDir}` : 'none allowed'}),
        h('dt', {text: 'Notifier destinations denied'}), h('dd', {text: (p.notifierDenyCIDRs || []).join(', ') || 'none'}),
        h('dt', {text: 'Reported by'}), h('dd', {text: p.nodeID ? `${p.nodeID}${p.leader ? ', the leader (its policy is the one in force)' : ''}` : '—'})));
    } catch (e) {
      if (e.name === 'AbortError' || e.code === 401) return;
      replace(policyBox, errorBox(e, 'Cannot read the admission policy'));
    }
  }
  loadPolicy();

  const stops = [poller(loadRaft, RAFT_EVERY), poller(loadMesos, MESOS_EVERY), poller(loadNotifiers, NOTIFIERS_EVERY)];
  return {
    unmount() {
      ctl.abort();
      stops.forEach(s => s());
    },
  };
}

export default {mount};
