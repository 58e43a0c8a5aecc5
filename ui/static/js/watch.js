// Watches: Server-Sent Events read with fetch (EventSource cannot send an
// Authorization header), and an Informer that lists (in pages, so the first
// rows paint early) and then watches from the list's resourceVersion,
// resuming after a dropped connection and listing again when the server
// says the version is gone (410).

import {ApiError, statusError} from './api.js';

// SSEParser turns a text stream into events {event, id, data}, as the
// EventSource specification parses it: fields up to a blank line, data
// lines joined with "\n", comments (":") ignored, any line ending.
export class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.id = null; // the last event ID, kept across events as EventSource keeps it
    this.reset();
  }
  reset() { this.event = ''; this.data = []; }
  push(text) {
    this.buf += text;
    let start = 0;
    for (;;) {
      let end = -1, next = -1;
      for (let i = start; i < this.buf.length; i++) {
        const c = this.buf.charCodeAt(i);
        if (c === 10) { end = i; next = i + 1; break; }
        if (c === 13) {
          if (i + 1 >= this.buf.length) break; // "\r" at the end: wait for a possible "\n"
          end = i; next = this.buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1; break;
        }
      }
      if (end < 0) break;
      this.line(this.buf.slice(start, end));
      start = next;
    }
    this.buf = this.buf.slice(start);
  }
  line(l) {
    if (l === '') {
      if (this.data.length) this.onEvent({event: this.event || 'message', id: this.id, data: this.data.join('\n')});
      this.reset();
      return;
    }
    if (l.startsWith(':')) return;
    const i = l.indexOf(':');
    const field = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.event = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}

// streamSSE opens path as an event stream and calls onEvent(type, object,
// id) for each event. It resolves when the server ends the stream and
// rejects with an ApiError when it answers an error, or when nothing
// (not even a BOOKMARK, sent every 30 s) arrives for idleMs.
export async function streamSSE(api, path, query, {signal, onEvent, onOpen, idleMs = 75000}) {
  const ctl = new AbortController();
  const abort = () => ctl.abort();
  if (signal) {
    if (signal.aborted) throw new DOMException('aborted', 'AbortError');
    signal.addEventListener('abort', abort, {once: true});
  }
  let idle = null;
  let timedOut = false;
  const arm = () => {
    clearTimeout(idle);
    idle = setTimeout(() => { timedOut = true; ctl.abort(); }, idleMs);
  };
  try {
    arm();
    const resp = await api.fetch('GET', path, {query, accept: 'text/event-stream', signal: ctl.signal});
    if (onOpen) onOpen();
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    const parser = new SSEParser(ev => {
      let msg;
      try { msg = JSON.parse(ev.data); } catch { throw new ApiError(0, 'BadStream', 'the server sent an event that is not JSON'); }
      onEvent(msg.type || ev.event, msg.object, ev.id);
    });
    for (;;) {
      const {done, value} = await reader.read();
      if (done) break;
      arm();
      parser.push(dec.decode(value, {stream: true}));
    }
  } catch (e) {
    if (timedOut) throw new ApiError(0, 'Timeout', 'the watch went silent; reconnecting');
    throw e;
  } finally {
    clearTimeout(idle);
    ctl.abort(); // release the connection however the stream ended
    if (signal) signal.removeEventListener('abort', abort);
  }
}

const rvOf = o => Number((o && o.metadata && o.metadata.resourceVersion) || 0);

// sleep resolves after ms, or rejects when signal aborts.
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal && signal.aborted) { reject(new DOMException('aborted', 'AbortError')); return; }
    const t = setTimeout(done, ms);
    function done() { if (signal) signal.removeEventListener('abort', stop); resolve(); }
    function stop() { clearTimeout(t); reject(new DOMException('aborted', 'AbortError')); }
    if (signal) signal.addEventListener('abort', stop, {once: true});
  });
}

// Informer keeps `items` (a Map by name) in step with a collection: list,
// then watch. Listeners (listen) hear change(info) at most once per
// animation frame after the items changed (info.reset: the whole map was
// replaced) and state(state, detail): 'loading', 'live', 'reconnecting',
// 'error' (detail: the ApiError) or 'stopped'.
export class Informer {
  constructor(api, {path, query = {}, firstPage = 100, pageSize = 2500}) {
    this.api = api;
    this.path = path;
    this.query = query;
    this.firstPage = firstPage;
    this.pageSize = pageSize;
    this.listeners = new Set();
    this.items = new Map();
    this.synced = false; // every page of the current list has arrived
    this.loaded = 0;
    this.remaining = null; // items the list still has to send, when known
    this.rv = 0;
    this.state = '';
    this.ctl = new AbortController();
    this.frame = 0;
    this.pendingReset = false;
  }

  start() { this.run(); return this; }

  // listen adds a listener {change(info), state(state, detail)} and
  // returns the function that removes it.
  listen(l) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  onChange(info) { for (const l of [...this.listeners]) if (l.change) l.change(info); }
  onState(s, detail) { for (const l of [...this.listeners]) if (l.state) l.state(s, detail); }

  stop() {
    this.ctl.abort();
    cancelAnimationFrame(this.frame);
    this.setState('stopped');
  }

  setState(s, detail) {
    if (this.state === s && !detail) return;
    this.state = s;
    this.onState(s, detail);
  }

  changed(reset, now = false) {
    if (reset) this.pendingReset = true;
    if (now) {
      // The first rows: show them at once rather than at the next frame.
      cancelAnimationFrame(this.frame);
      this.frame = 0;
      const info = {reset: this.pendingReset};
      this.pendingReset = false;
      this.onChange(info);
      return;
    }
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      const info = {reset: this.pendingReset};
      this.pendingReset = false;
      if (!this.ctl.signal.aborted) this.onChange(info);
    });
  }

  async run() {
    const signal = this.ctl.signal;
    let failures = 0;
    while (!signal.aborted) {
      try {
        this.setState(this.synced ? 'reconnecting' : 'loading');
        await this.list(signal);
        failures = 0;
        await this.watch(signal);
      } catch (e) {
        if (signal.aborted || e.name === 'AbortError') return;
        if (e.code === 401) { this.setState('error', e); return; }
        if (e.code === 400 || e.code === 403 || e.code === 404) {
          // The request itself is wrong (a bad selector): retrying will not help.
          this.setState('error', e);
          return;
        }
        failures++;
        this.setState('error', e);
        try { await sleep(backoff(failures, e), signal); } catch { return; }
      }
    }
  }

  // list reads every page. The first listing fills items page by page so
  // the first rows show at once; a relist builds a fresh map and swaps it
  // in when complete, so the table does not empty while it runs.
  async list(signal) {
    const progressive = this.items.size === 0;
    const fresh = progressive ? this.items : new Map();
    let cont = '', first = true, rv = 0;
    this.synced = false;
    do {
      const q = {...this.query, limit: first ? this.firstPage : this.pageSize};
      if (cont) q.continue = cont;
      const page = await this.api.get(this.path, {query: q, signal});
      if (first) rv = Number(page.metadata.resourceVersion || 0);
      for (const o of page.items || []) fresh.set(o.metadata.name, o);
      cont = page.metadata.continue || '';
      this.remaining = page.metadata.remainingItemCount ?? null;
      this.loaded = fresh.size;
      if (progressive) this.changed(first, first);
      first = false;
    } while (cont && !signal.aborted);
    this.items = fresh;
    this.rv = rv;
    this.synced = true;
    this.remaining = 0;
    this.changed(true);
  }

  // watch follows changes from this.rv, reconnecting with back-off; it
  // returns when the collection must be listed again.
  async watch(signal) {
    let failures = 0;
    while (!signal.aborted) {
      try {
        await streamSSE(this.api, this.path, {...this.query, watch: 'true', resourceVersion: this.rv}, {
          signal,
          onOpen: () => { failures = 0; this.setState('live'); },
          onEvent: (type, obj, id) => this.apply(type, obj, id),
        });
      } catch (e) {
        if (signal.aborted || e.name === 'AbortError') throw e;
        if (e.code === 410 || e.code === 400) return; // too old, or from another history: list again
        if (e.code === 401 || e.code === 403 || e.code === 404) throw e;
        failures++;
        this.setState('reconnecting', e);
        await sleep(backoff(failures, e), signal);
        continue;
      }
      // The server ended the stream (it restarts, or closes watches on
      // shutdown): resume from the last version seen.
      failures++;
      this.setState('reconnecting');
      await sleep(backoff(failures), signal);
    }
  }

  apply(type, obj, id) {
    if (type === 'ERROR') throw statusError(obj || {}, 500);
    const rv = rvOf(obj);
    if (type === 'BOOKMARK') {
      if (rv > this.rv) this.rv = rv;
      return;
    }
    if (!obj || !obj.metadata || !obj.metadata.name) return;
    const name = obj.metadata.name;
    const cur = this.items.get(name);
    // A watch resumed from the first page's version replays changes the
    // later pages already hold: never go back to an older version.
    if (!(cur && rvOf(cur) > rv)) {
      if (type === 'DELETED') this.items.delete(name);
      else this.items.set(name, obj);
      this.changed(false);
    }
    const v = Math.max(rv, Number(id || 0));
    if (v > this.rv) this.rv = v;
  }
}

// backoff is 0.5 s, 1 s, 2 s … capped at 15 s, with jitter; a 429's
// Retry-After wins.
export function backoff(n, err) {
  if (err && err.retryAfter) return err.retryAfter * 1000;
  const base = Math.min(15000, 500 * 2 ** Math.min(n - 1, 5));
  return base / 2 + Math.random() * base / 2;
}
