// A Run's pipeline, live: the Runs it depends on (spec.dependsOn, read
// upwards Run by Run) and the Runs that depend on it (GET
// /api/v1/runs/{name}/dependents), kept current by a watch of Runs from
// the version read before collecting, so nothing that changes meanwhile
// is missed. Scope 'run' is the Run's ancestors and descendants (the Run
// page); scope 'chain' is the whole connected pipeline (the pipeline page).

import {h, replace, errorBox} from './dom.js';
import {ApiError} from './api.js';
import {Informer} from './watch.js';
import {TERMINAL, phaseOf, phaseBadge} from './format.js';
import {renderGraph, layout, edgesOf} from './graph.js';

// MAX_NODES bounds what one page collects and draws.
export const MAX_NODES = 200;

const runPath = name => `/api/v1/runs/${encodeURIComponent(name)}`;

// nodeOf is a graph node from a Run object.
function nodeOf(run) {
  return {
    name: run.metadata.name, phase: phaseOf(run), reason: (run.status && run.status.reason) || '',
    deps: (run.spec.dependsOn || []).map(d => ({name: d.name, condition: d.condition || 'Succeeded'})),
    missing: false, rv: Number(run.metadata.resourceVersion || 0),
  };
}

const missingNode = name => ({name, phase: '', reason: '', deps: [], missing: true, rv: 0});

// collect reads the graph around target. It throws a 404 ApiError when
// target does not exist.
export async function collect(api, target, scope, signal) {
  const nodes = new Map();
  let truncated = false;
  // A Run read by listing its name: a dependency not created yet is an
  // empty list, not a 404 (which a browser reports as an error).
  const getRun = async name => {
    const list = await api.get('/api/v1/runs', {query: {fieldSelector: `metadata.name=${name}`, limit: 1}, signal});
    return (list.items || [])[0] || null;
  };
  const root = await getRun(target);
  if (!root) throw new ApiError(404, 'NotFound', `There is no Run named ${target}.`);
  nodes.set(target, nodeOf(root));

  // Upwards, level by level: the dependencies of every node read so far.
  const up = async from => {
    let level = from;
    while (level.length) {
      const next = [];
      for (const n of level) {
        for (const d of nodes.get(n).deps) {
          if (nodes.has(d.name) || next.includes(d.name)) continue;
          if (nodes.size + next.length >= MAX_NODES) { truncated = true; continue; }
          next.push(d.name);
        }
      }
      const runs = await Promise.all(next.map(getRun));
      next.forEach((n, i) => nodes.set(n, runs[i] ? nodeOf(runs[i]) : missingNode(n)));
      level = next.filter((n, i) => runs[i]);
    }
  };

  if (scope === 'run') {
    await up([target]);
    const tree = await api.get(runPath(target) + '/dependents', {signal});
    if (tree.truncated) truncated = true;
    const walk = parent => {
      for (const c of parent.dependents || []) {
        let n = nodes.get(c.name);
        if (!n) {
          if (nodes.size >= MAX_NODES) { truncated = true; continue; }
          n = {name: c.name, phase: c.phase || 'Pending', reason: c.reason || '', deps: [], missing: false, rv: 0};
          nodes.set(c.name, n);
        }
        if (!n.deps.some(d => d.name === parent.name)) n.deps.push({name: parent.name, condition: c.condition || 'Succeeded'});
        if (!c.repeated) walk(c);
      }
    };
    walk(tree);
    return {nodes, truncated};
  }

  // The whole pipeline: from every node, up its dependencies and down its
  // direct dependents, until nothing new turns up.
  let frontier = [target];
  const seenDown = new Set();
  while (frontier.length) {
    await up(frontier);
    const down = [...nodes.values()].filter(n => !n.missing && !seenDown.has(n.name)).map(n => n.name);
    down.forEach(n => seenDown.add(n));
    const trees = await Promise.all(down.map(n => api.get(runPath(n) + '/dependents', {signal}).catch(e => {
      if (e.code === 404) return {dependents: []};
      throw e;
    })));
    const fresh = [];
    for (const t of trees) {
      for (const c of t.dependents || []) {
        if (nodes.has(c.name) || fresh.includes(c.name)) continue;
        if (nodes.size + fresh.length >= MAX_NODES) { truncated = true; continue; }
        fresh.push(c.name);
      }
    }
    const runs = await Promise.all(fresh.map(getRun));
    fresh.forEach((n, i) => { if (runs[i]) nodes.set(n, nodeOf(runs[i])); });
    frontier = fresh.filter((n, i) => runs[i]);
  }
  return {nodes, truncated};
}

// descendants are the names downstream of target in nodes.
export function descendants(nodes, target) {
  const children = new Map();
  for (const e of edgesOf(nodes)) {
    if (!children.has(e.from)) children.set(e.from, []);
    children.get(e.from).push(e.to);
  }
  const out = new Set();
  const stack = [target];
  while (stack.length) {
    for (const c of children.get(stack.pop()) || []) {
      if (!out.has(c)) { out.add(c); stack.push(c); }
    }
  }
  return out;
}

// ancestors are the names upstream of target in nodes.
export function ancestors(nodes, target) {
  const out = new Set();
  const stack = [target];
  while (stack.length) {
    const n = nodes.get(stack.pop());
    for (const d of (n && n.deps) || []) {
      if (nodes.has(d.name) && !out.has(d.name)) { out.add(d.name); stack.push(d.name); }
    }
  }
  return out;
}

// Pipeline follows a pipeline: items is the Map of nodes. It is an
// Informer whose "list" is collect (after reading the current version)
// and whose watch events patch the nodes; a change it cannot patch
// (a new Run whose other dependencies are unknown) lists again.
export class Pipeline extends Informer {
  constructor(api, target, scope) {
    super(api, {path: '/api/v1/runs'});
    this.target = target;
    this.scope = scope;
    this.truncated = false;
  }

  async list(signal) {
    const page = await this.api.get('/api/v1/runs', {query: {limit: 1}, signal});
    const rv = Number(page.metadata.resourceVersion || 0);
    const {nodes, truncated} = await collect(this.api, this.target, this.scope, signal);
    this.items = nodes;
    this.truncated = truncated;
    this.rv = rv;
    this.synced = true;
    this.changed(true);
  }

  apply(type, obj, id) {
    if (type === 'ERROR') return super.apply(type, obj, id);
    const rv = Number((obj && obj.metadata && obj.metadata.resourceVersion) || 0);
    const v = Math.max(rv, Number(id || 0));
    if (v > this.rv) this.rv = v;
    if (type === 'BOOKMARK' || !obj || !obj.metadata || !obj.spec) return;
    const name = obj.metadata.name;
    const cur = this.items.get(name);
    if (type === 'DELETED') {
      if (!cur) return;
      const needed = [...this.items.values()].some(n => n.deps.some(d => d.name === name));
      if (needed && name !== this.target) this.items.set(name, missingNode(name));
      else this.items.delete(name);
      this.changed(false);
      return;
    }
    if (cur) {
      if (cur.rv > rv) return; // replayed: the node is newer already
      this.items.set(name, nodeOf(obj));
      this.changed(false);
      return;
    }
    // A Run new to the graph: in it when it depends on the target or one
    // of its descendants (scope run), or on any node (scope chain).
    const deps = obj.spec.dependsOn || [];
    if (!deps.length) return;
    const within = this.scope === 'run' ? new Set([this.target, ...descendants(this.items, this.target)]) : new Set(this.items.keys());
    if (!deps.some(d => within.has(d.name))) return;
    if (this.items.size >= MAX_NODES) { this.truncated = true; this.changed(false); return; }
    if (this.scope === 'chain' && deps.some(d => !this.items.has(d.name))) {
      throw new ApiError(410, 'Expired', 'the pipeline grew: reading it again'); // lists again
    }
    this.items.set(name, nodeOf(obj));
    this.changed(false);
  }
}

// PipelineView renders a Pipeline: the SVG graph and, as its accessible
// equivalent, a list of the same nodes by layer with what each waits for.
// onState receives the follower's states (for the connection indicator).
export class PipelineView {
  constructor(api, target, scope, {onState, heading = 'h3'} = {}) {
    this.target = target;
    this.scope = scope;
    this.heading = heading;
    this.graphBox = h('div', {class: 'graph-box', id: 'pipeline-graph'});
    this.listBox = h('div', {class: 'graph-list', id: 'pipeline-list'});
    this.summary = h('div', {id: 'pipeline-summary'});
    this.problem = h('div');
    this.el = h('div', {class: 'pipeline'}, this.summary, this.problem, this.graphBox, this.listBox);
    this.follower = new Pipeline(api, target, scope);
    this.off = this.follower.listen({
      change: () => this.render(),
      state: (s, d) => {
        if (onState) onState(s, d);
        if (s === 'error' && d && d.code !== 401) replace(this.problem, errorBox(d, 'Cannot follow the pipeline'));
        else if (s === 'live') replace(this.problem);
      },
    });
    replace(this.graphBox, h('p', {class: 'muted', text: 'Loading the pipeline…'}));
    this.follower.start();
  }

  stop() {
    this.off();
    this.follower.stop();
  }

  render() {
    const nodes = this.follower.items;
    if (!this.follower.synced) return;
    const up = ancestors(nodes, this.target);
    const down = descendants(nodes, this.target);
    const blocked = [...down].filter(n => nodes.get(n) && !nodes.get(n).missing && !TERMINAL.has(nodes.get(n).phase)).sort();
    const me = nodes.get(this.target);
    if (!me) {
      // Deleted while shown (the watch said so): what is left is no
      // longer its pipeline.
      replace(this.summary, h('div', {class: 'box warn', role: 'status'}, `${this.target} was deleted. `, h('a', {href: '#/runs', text: 'Back to Runs'})));
      replace(this.graphBox);
      replace(this.listBox);
      return;
    }
    const link = n => h('a', {href: '#/runs/' + encodeURIComponent(n), text: n});
    const list = names => names.map((n, i) => [i ? ', ' : '', link(n)]);
    replace(this.summary, h('dl', {class: 'kv'},
      h('dt', {text: 'Depends on'}),
      h('dd', {id: 'depends-on'}, me.deps.length
        ? me.deps.map((d, i) => {
          const dep = nodes.get(d.name);
          const now = !dep ? '' : dep.missing ? '; not created yet' : `; now ${dep.phase}`;
          return [i ? ', ' : '', link(d.name), ` (needs ${d.condition}${now})`];
        })
        : 'nothing'),
      this.scope === 'chain' && up.size > me.deps.length ? [h('dt', {text: 'Upstream'}), h('dd', null, `${up.size} Runs`)] : null,
      h('dt', {text: 'Blocked'}),
      h('dd', {id: 'blocked'}, blocked.length ? [list(blocked), ' (waiting for this Run)'] : down.size ? 'nothing: every Run downstream has finished' : 'nothing depends on this Run'),
      this.follower.truncated ? [h('dt', {text: 'Note'}), h('dd', {text: `Only the first ${MAX_NODES} Runs of this pipeline are shown.`})] : null));
    if (nodes.size < 2) {
      replace(this.graphBox);
      replace(this.listBox);
      return;
    }
    replace(this.graphBox, renderGraph(nodes, {focus: this.target, label: `Dependency graph of ${this.target}: ${nodes.size} Runs`}));
    // The same nodes as text, layer by layer.
    const lay = layout([...nodes.keys()], edgesOf(nodes));
    replace(this.listBox, h('details', {open: this.scope === 'chain'},
      h('summary', {text: `The graph as a list (${nodes.size} Runs, in order)`}),
      h('ol', {class: 'layers'}, lay.layers.map((ns, i) => h('li', null, h('span', {class: 'muted', text: `Step ${i + 1}: `}),
        h('ul', null, ns.map(n => {
          const node = nodes.get(n);
          const waits = node.deps.filter(d => nodes.has(d.name));
          return h('li', {dataset: {name: n}}, link(n), ' ', node.missing ? h('span', {class: 'muted', text: 'not created yet'}) : phaseBadge(node.phase),
            node.reason && node.reason !== 'Completed' ? h('span', {class: 'muted', text: ` ${node.reason}`}) : '',
            waits.length ? h('span', {class: 'muted', text: ` — waits for ${waits.map(d => `${d.name} (${d.condition})`).join(', ')}`}) : '');
        })))))));
  }
}
