// LogView shows a Run's task output from GET /api/v1/runs/{name}/log: the
// last lines first, stdout or stderr, and with "follow" the output as it
// is written until the task ends. What the page keeps is bounded.

import {h, replace} from './dom.js';
import {TERMINAL, phaseOf} from './format.js';

const MAX_CHARS = 2 << 20; // kept in the page; older output is dropped
const TAIL = 1000;

export class LogView {
  constructor(api, name) {
    this.api = api;
    this.name = name;
    this.stream = 'stdout';
    this.follow = true;
    this.tail = TAIL;
    this.ctl = null;
    this.state = 'idle'; // idle | reading | unavailable | ended | error
    this.chars = 0;
    this.run = null;

    const radio = (value, text) => h('label', null,
      h('input', {type: 'radio', name: 'log-stream', value, checked: value === this.stream,
        onchange: () => { this.stream = value; this.start(); }}),
      h('span', {text}));
    this.followBox = h('input', {type: 'checkbox', id: 'log-follow', checked: this.follow,
      onchange: () => { this.follow = this.followBox.checked; this.start(); }});
    this.wholeBtn = h('button', {type: 'button', class: 'quiet', text: 'Show the whole log',
      onclick: () => { this.tail = 0; this.start(); }});
    this.status = h('span', {class: 'muted', role: 'status', 'aria-live': 'polite'});
    this.pre = h('pre', {class: 'log', id: 'log-output', tabindex: '0', 'aria-label': 'Task output', 'aria-live': 'off'});
    this.el = h('section', {'aria-labelledby': 'log-title'},
      h('h2', {id: 'log-title', text: 'Log'}),
      h('div', {class: 'log-tools'},
        h('fieldset', {class: 'seg'}, h('legend', {text: 'Stream'}), radio('stdout', 'stdout'), radio('stderr', 'stderr')),
        h('label', {class: 'check', for: 'log-follow'}, this.followBox, 'Follow'),
        this.wholeBtn, this.status),
      this.pre);
  }

  // update tells the view the Run changed: a log that was not there yet
  // is tried again once the Run has a task.
  update(run) {
    const first = !this.run;
    this.run = run;
    if (first) {
      if (TERMINAL.has(phaseOf(run))) { this.follow = false; this.followBox.checked = false; }
      if (!(run.status && run.status.taskID)) {
        this.state = 'unavailable';
        this.pre.textContent = TERMINAL.has(phaseOf(run)) ? 'This Run never started a task: it has no output.' : 'No output yet: the task has not started.';
        return;
      }
      this.start();
      return;
    }
    if (this.state === 'unavailable' && run.status && run.status.taskID) this.start();
    if (this.state === 'ended' && this.follow && !TERMINAL.has(phaseOf(run))) this.start(); // a retry started a new attempt
  }

  stop() {
    if (this.ctl) this.ctl.abort();
    this.ctl = null;
  }

  async start() {
    this.stop();
    const ctl = new AbortController();
    this.ctl = ctl;
    replace(this.pre);
    this.chars = 0;
    this.state = 'reading';
    this.status.textContent = this.follow ? 'Following…' : 'Loading…';
    this.wholeBtn.hidden = this.tail === 0;
    let resp;
    try {
      resp = await this.api.fetch('GET', `/api/v1/runs/${encodeURIComponent(this.name)}/log`, {
        query: {stream: this.stream, follow: this.follow ? 'true' : '', tail: this.tail || ''}, accept: 'text/plain', signal: ctl.signal});
    } catch (e) {
      if (ctl.signal.aborted) return;
      if (e.code === 404) {
        this.state = 'unavailable';
        this.status.textContent = '';
        this.pre.textContent = e.reason === 'NotFound' && /log|output|task|sandbox/i.test(e.message) ? `No output yet: ${e.message}` : e.message;
        return;
      }
      this.state = 'error';
      this.status.textContent = '';
      this.pre.textContent = `Cannot read the log: ${e.message}`;
      return;
    }
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    try {
      for (;;) {
        const {done, value} = await reader.read();
        if (done) break;
        this.append(dec.decode(value, {stream: true}));
      }
      this.append(dec.decode());
    } catch (e) {
      if (ctl.signal.aborted) return;
      this.status.textContent = `The stream broke: ${e.message}`;
      this.state = 'error';
      return;
    }
    if (ctl.signal.aborted) return;
    this.state = 'ended';
    this.status.textContent = this.chars ? (this.follow ? 'The task ended; this is all of its output.' : '') : 'The task wrote nothing to ' + this.stream + '.';
  }

  append(text) {
    if (!text) return;
    const pre = this.pre;
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
    pre.appendChild(document.createTextNode(text));
    this.chars += text.length;
    while (this.chars > MAX_CHARS && pre.firstChild) {
      this.chars -= pre.firstChild.textContent.length;
      pre.removeChild(pre.firstChild);
      if (!pre.dataset.trimmed) {
        pre.dataset.trimmed = '1';
        this.status.textContent = 'Older output is not shown (the page keeps the last 2 MiB).';
      }
    }
    if (this.follow && atBottom) pre.scrollTop = pre.scrollHeight;
  }
}
