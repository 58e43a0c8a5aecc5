// The pipeline page: the whole dependency graph a Run belongs to (every
// Run connected to it through spec.dependsOn, up and down), live.

import {h} from '../dom.js';
import {validName} from '../format.js';
import {PipelineView} from '../pipeline.js';

function mount(el, ctx, params) {
  const name = params[0];
  ctx.setTitle(`Pipeline of ${name}`);
  el.append(h('p', {class: 'crumbs'}, h('a', {href: '#/runs', text: 'Runs'}), ' / ', h('a', {href: '#/runs/' + encodeURIComponent(name), text: name}), ' / pipeline'),
    h('h1', {tabindex: '-1', text: `Pipeline of ${name}`}));
  if (!validName(name)) {
    el.append(h('div', {class: 'box error', role: 'alert'}, h('code', {text: name}), ' is not a Run name (lower-case letters, digits and "-", at most 63).'));
    return {unmount() {}};
  }
  el.append(h('p', {class: 'muted', text: 'Every Run connected to this one through spec.dependsOn. Arrows point from a dependency to the Run that waits for it; a dashed arrow waits for a failure, a dotted one for any end. Colours follow the phases and change as the Runs do.'}));
  const view = new PipelineView(ctx.api, name, 'chain', {onState: (s, d) => ctx.setConn(s, d)});
  el.append(view.el);
  return {unmount() { view.stop(); }};
}

export default {mount};
