// The events of a Run or a Schedule (GET …/events). There is no watch of
// events: they are read soon after the object changes (schedule) and
// every 10 s. extra(signal), when given, runs along with every read (the
// Run page asks for its dependents so).

import {h, replace, errorBox} from './dom.js';
import {age} from './format.js';

const SOON_MS = 250;
const EVERY_MS = 10000;

export class EventsView {
  constructor(api, path, {id, extra} = {}) {
    this.api = api;
    this.path = path;
    this.extra = extra;
    this.el = h('div', {id});
    this.timer = 0;
    this.ctl = null;
  }

  // schedule reads the events soon (and every 10 s from then).
  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.load(), SOON_MS);
  }

  // stop stops reading, aborting a read in flight.
  stop() {
    clearTimeout(this.timer);
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  async load() {
    this.stop();
    const ctl = new AbortController();
    this.ctl = ctl;
    try {
      const [list] = await Promise.all([this.api.get(this.path + '/events', {signal: ctl.signal}), this.extra && this.extra(ctl.signal)]);
      const items = list.items || [];
      replace(this.el, items.length
        ? h('table', {class: 'plain'},
          h('thead', null, h('tr', null, ['Type', 'Reason', 'Age', 'Message'].map(t => h('th', {scope: 'col', text: t})))),
          h('tbody', null, items.slice().reverse().map(e => h('tr', {class: 'ev-' + e.type},
            h('td', {text: e.type}), h('td', {text: e.reason}),
            h('td', {title: e.time, text: age(e.time)}),
            h('td', {text: e.message + (e.count > 1 ? ` (×${e.count})` : '')})))))
        : h('p', {class: 'muted', text: 'No events.'}));
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.code === 404) return; // the object is gone; its watch says so
      replace(this.el, errorBox(e, 'Cannot read events'));
    }
    if (this.ctl === ctl) this.timer = setTimeout(() => this.load(), EVERY_MS);
  }
}
