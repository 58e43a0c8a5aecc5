// The Runs every page can share: one Informer on /api/v1/runs (with the
// Runs page's label selector) that outlives the page for a while, so that
// going to a Run and back shows the table at once instead of listing
// 10,000 Runs again, and so that a Run page opened from it needs no watch
// of its own. Browsers allow six HTTP/1.1 connections per host across all
// tabs, and each watch holds one: sharing keeps a tab to two or three.

import {Informer} from './watch.js';

const KEEP_MS = 120000;
let kept = null; // {selector, informer, users, timer}

function usable(k) {
  return k && k.informer.state !== 'error' && k.informer.state !== 'stopped';
}

// acquire returns the informer for selector ('' = all Runs), started;
// give it back with release.
export function acquire(api, selector) {
  if (kept && (kept.selector !== selector || !usable(kept))) {
    kept.informer.stop();
    clearTimeout(kept.timer);
    kept = null;
  }
  if (!kept) {
    const informer = new Informer(api, {path: '/api/v1/runs', query: selector ? {labelSelector: selector} : {}}).start();
    kept = {selector, informer, users: 0, timer: 0};
  }
  clearTimeout(kept.timer);
  kept.users++;
  return kept.informer;
}

// release gives an informer back; the last user's release keeps it
// running for KEEP_MS more.
export function release(informer) {
  if (!kept || kept.informer !== informer) {
    informer.stop();
    return;
  }
  kept.users = Math.max(0, kept.users - 1);
  if (kept.users > 0) return;
  const k = kept;
  k.timer = setTimeout(() => {
    if (kept === k && k.users === 0) { k.informer.stop(); kept = null; }
  }, KEEP_MS);
}

// shareAll returns the kept informer when it holds every Run and has them
// all, acquired; else it stops an idle kept informer (freeing its
// connection for the caller's own watch) and returns null.
export function shareAll() {
  if (kept && kept.selector === '' && usable(kept) && kept.informer.synced) {
    clearTimeout(kept.timer);
    kept.users++;
    return kept.informer;
  }
  if (kept && kept.users === 0) {
    kept.informer.stop();
    clearTimeout(kept.timer);
    kept = null;
  }
  return null;
}
