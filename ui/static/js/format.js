// Formatting shared by the pages.

import {h} from './dom.js';

export const PHASES = ['Pending', 'Starting', 'Running', 'Succeeded', 'Failed', 'Killed'];
export const TERMINAL = new Set(['Succeeded', 'Failed', 'Killed']);

// phaseOf is a Run's phase; a Run the controller has not touched yet is Pending.
export const phaseOf = run => (run.status && run.status.phase) || 'Pending';

export function phaseBadge(phase) {
  return h('span', {class: `phase phase-${PHASES.includes(phase) ? phase : 'Pending'}`, text: phase});
}

// age renders the time since an RFC 3339 timestamp as kubectl does: 45s,
// 12m, 3h, 5d.
export function age(ts, now = Date.now()) {
  if (!ts) return '';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '';
  let s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 120) return m + 'm';
  const hr = Math.floor(m / 60);
  if (hr < 48) return hr + 'h';
  return Math.floor(hr / 24) + 'd';
}

// when renders a timestamp as local time with its age.
export function when(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return `${d.toLocaleString()} (${age(ts)} ago)`;
}

export function labelText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => (v === '' ? k : `${k}=${v}`));
}

export function num(n) { return Number(n || 0).toLocaleString('en-US'); }

// fixed renders a resource amount without float noise: 0.3, 8192, 1.25.
export function fixed(n) {
  const v = Math.round(Number(n || 0) * 1000) / 1000;
  return v.toLocaleString('en-US', {maximumFractionDigits: 3});
}

// until renders the time to an RFC 3339 timestamp: "in 45s", "in 12m";
// a time already past reads as an age ("3s ago").
export function until(ts, now = Date.now()) {
  if (!ts) return '';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '';
  if (t < now) return age(ts, now) + ' ago';
  const s = Math.ceil((t - now) / 1000);
  if (s < 120) return `in ${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `in ${m}m`;
  const hr = Math.floor(m / 60);
  if (hr < 48) return `in ${hr}h`;
  return `in ${Math.floor(hr / 24)}d`;
}

// byNewest orders objects newest first by creation time, then by name.
export function byNewest(a, b) {
  const ca = a.metadata.creationTimestamp || '', cb = b.metadata.creationTimestamp || '';
  if (ca !== cb) return ca < cb ? 1 : -1;
  return a.metadata.name < b.metadata.name ? 1 : a.metadata.name > b.metadata.name ? -1 : 0;
}

// DNS_LABEL is what a Run or Schedule name must match (at most 63 long).
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const validName = n => DNS_LABEL.test(n) && n.length <= 63;
