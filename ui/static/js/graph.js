// Dependency graphs drawn as SVG: a layered (longest-path) layout, left to
// right from dependencies to their dependents, with the order inside each
// layer improved by a few barycenter sweeps so that edges cross less.
// Nodes are links to their Run, coloured by phase (with the phase also as
// text), each with a <title>; edges carry the condition as their title.

import {h} from './dom.js';
import {PHASES} from './format.js';

const NODE_W = 164;
const NODE_H = 46;
const GAP_X = 48;
const GAP_Y = 18;
const PAD = 8;
const NAME_CHARS = 20;

// layout places nodes (names) in layers: a node's layer is the length of
// the longest path to it from a node without dependencies (so every edge
// points right). edges: [{from, to}]. It returns {layers: [[name…]],
// pos: Map name → {x, y, layer, row}, width, height}. A cycle (which the
// server refuses) cannot loop it: nodes left on one are put last.
export function layout(names, edges) {
  const parents = new Map(names.map(n => [n, []]));
  const children = new Map(names.map(n => [n, []]));
  for (const e of edges) {
    if (!parents.has(e.from) || !parents.has(e.to) || e.from === e.to) continue;
    parents.get(e.to).push(e.from);
    children.get(e.from).push(e.to);
  }
  // Kahn's order, layers as longest paths.
  const layer = new Map();
  const indeg = new Map(names.map(n => [n, parents.get(n).length]));
  const queue = names.filter(n => indeg.get(n) === 0).sort();
  for (const n of queue) layer.set(n, 0);
  for (let i = 0; i < queue.length; i++) {
    const n = queue[i];
    for (const c of children.get(n)) {
      layer.set(c, Math.max(layer.get(c) || 0, layer.get(n) + 1));
      indeg.set(c, indeg.get(c) - 1);
      if (indeg.get(c) === 0) queue.push(c);
    }
  }
  let deepest = Math.max(0, ...layer.values());
  for (const n of [...names].sort()) {
    if (!layer.has(n)) layer.set(n, ++deepest);
  }
  const layers = [];
  for (const n of [...names].sort()) {
    const l = layer.get(n);
    while (layers.length <= l) layers.push([]);
    layers[l].push(n);
  }
  // Barycenter sweeps: down (by parents), up (by children), down again.
  const row = new Map();
  const index = () => layers.forEach(ns => ns.forEach((n, i) => row.set(n, i)));
  index();
  const sweep = (ls, neighbours) => {
    for (const ns of ls) {
      const bary = new Map(ns.map(n => {
        const near = neighbours.get(n).filter(m => row.has(m));
        return [n, near.length ? near.reduce((s, m) => s + row.get(m), 0) / near.length : row.get(n)];
      }));
      ns.sort((a, b) => bary.get(a) - bary.get(b) || (a < b ? -1 : a > b ? 1 : 0));
      ns.forEach((n, i) => row.set(n, i));
    }
  };
  sweep(layers.slice(1), parents);
  sweep(layers.slice(0, -1).reverse(), children);
  sweep(layers.slice(1), parents);
  const tallest = Math.max(1, ...layers.map(ns => ns.length));
  const pos = new Map();
  layers.forEach((ns, l) => {
    const offset = (tallest - ns.length) * (NODE_H + GAP_Y) / 2;
    ns.forEach((n, r) => pos.set(n, {x: PAD + l * (NODE_W + GAP_X), y: PAD + offset + r * (NODE_H + GAP_Y), layer: l, row: r}));
  });
  return {
    layers, pos,
    width: PAD * 2 + layers.length * NODE_W + Math.max(0, layers.length - 1) * GAP_X,
    height: PAD * 2 + tallest * NODE_H + (tallest - 1) * GAP_Y,
  };
}

// edgesOf derives the edges of a graph of nodes (Map name → {deps:
// [{name, condition}]}): from each dependency present to its dependent.
export function edgesOf(nodes) {
  const out = [];
  for (const n of nodes.values()) {
    for (const d of n.deps || []) {
      if (nodes.has(d.name) && d.name !== n.name) out.push({from: d.name, to: n.name, condition: d.condition || 'Succeeded'});
    }
  }
  return out;
}

// SHORT_REASON is how a reason reads after the phase inside a node (the
// title has it in full).
const SHORT_REASON = {Completed: '', WaitingForDependencies: ' · waiting', DependencyFailed: ' · dependency failed', 'latest Run': ''};

const clip = s => (s.length > NAME_CHARS ? s.slice(0, NAME_CHARS - 1) + '…' : s);

const CONDITION_TEXT = {Succeeded: 'to succeed', Failed: 'to fail', Completed: 'to finish'};

// nodeTitle is a node's text for its tooltip and for assistive technology.
export function nodeTitle(n) {
  if (n.missing) return `${n.name}: not created yet`;
  return `${n.name}: ${n.phase}${n.reason ? ` (${n.reason})` : ''}`;
}

let ids = 0;

// renderGraph draws nodes (Map name → {name, phase, reason, missing,
// deps}) as an SVG element; focus is the node to outline (the page's
// Run), href the link of a node (a Run's page by default).
export function renderGraph(nodes, {focus = '', label = 'Dependency graph', href = n => '#/runs/' + encodeURIComponent(n)} = {}) {
  const edges = edgesOf(nodes);
  const lay = layout([...nodes.keys()], edges);
  const marker = `arrow-${++ids}`;
  const svg = h('svg:svg', {class: 'graph', width: lay.width, height: lay.height, viewBox: `0 0 ${lay.width} ${lay.height}`,
    role: 'group', 'aria-label': label, dataset: {nodes: String(nodes.size), edges: String(edges.length)}},
  h('svg:defs', null,
    h('svg:marker', {id: marker, viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '7', markerHeight: '7', orient: 'auto-start-reverse'},
      h('svg:path', {d: 'M 0 0 L 10 5 L 0 10 z', class: 'arrowhead'}))));
  for (const e of edges) {
    const a = lay.pos.get(e.from), b = lay.pos.get(e.to);
    const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x - 2, y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    svg.append(h('svg:path', {class: `edge cond-${e.condition}`, d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`,
      'marker-end': `url(#${marker})`, dataset: {from: e.from, to: e.to}},
    h('svg:title', {text: `${e.to} waits for ${e.from} ${CONDITION_TEXT[e.condition] || e.condition}`})));
  }
  // Nodes in layout order (step by step, top to bottom), so Tab moves
  // through them as they are read.
  for (const n of lay.layers.flat().map(name => nodes.get(name))) {
    const p = lay.pos.get(n.name);
    const phase = n.missing ? 'Missing' : PHASES.includes(n.phase) ? n.phase : 'Pending';
    svg.append(h('svg:a', {href: href(n.name), class: `node g-${phase}${n.name === focus ? ' focus' : ''}`,
      'aria-label': nodeTitle(n), dataset: {name: n.name, phase}},
    h('svg:title', {text: nodeTitle(n)}),
    h('svg:rect', {x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: '8', ry: '8'}),
    h('svg:text', {x: p.x + 10, y: p.y + 19, class: 'nm', text: clip(n.name)}),
    h('svg:text', {x: p.x + 10, y: p.y + 36, class: 'ph', text: n.missing ? 'not created yet' : clip(phase + (SHORT_REASON[n.reason] !== undefined ? SHORT_REASON[n.reason] : n.reason ? ` · ${n.reason}` : ''))})));
  }
  return svg;
}
