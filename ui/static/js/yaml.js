// YAML without a YAML library: the console renders objects as YAML for
// reading, and sends manifests to the server as the user wrote them
// (application/yaml or JSON); the server is the one parser. What this
// module does on its own is find structure: where each document and each
// Run of a list starts, and which line a field path such as
// "spec.uris[0].value" is on, so the server's field errors can be shown
// next to the lines they are about.

// ---------- Rendering ----------

const RESERVED = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;
const NUMBERISH = /^[-+]?(?:\.?[0-9]|\.(?:inf|nan)$)|^0[xob]/i;
const UNSAFE = /^[-?:,[\]{}#&*!|>'"%@`\s]|\s$|:\s|:$|\s#|[\x00-\x1f\x7f\u2028\u2029\ufeff]/;

// scalar renders a string, number, boolean or null as a YAML plain scalar
// when that reads back as the same value, else as a double-quoted one
// (a JSON string is a valid YAML double-quoted scalar).
export function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = String(v);
  if (s === '' || RESERVED.test(s) || NUMBERISH.test(s) || UNSAFE.test(s)) return JSON.stringify(s);
  return s;
}

function isContainer(v) {
  return v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);
}

// A multi-line string reads best as a literal block, when it has nothing a
// block cannot hold (control characters, a leading space or a trailing
// space on the first line that needs an indentation indicator).
function isBlock(v) {
  return typeof v === 'string' && v.includes('\n') && !/[\x00-\x08\x0b-\x1f\x7f\u2028\u2029\ufeff\r]/.test(v) &&
    !/^[ \t]/.test(v) && v.trim() !== '';
}

function block(v, ind) {
  const trail = v.match(/\n*$/)[0].length;
  const header = trail === 0 ? '|-' : trail === 1 ? '|' : '|+';
  const body = trail === 1 ? v.slice(0, -1) : trail === 0 ? v : v.slice(0, -1);
  const pad = ' '.repeat(ind);
  return {header, lines: body.split('\n').map(l => (l === '' ? '' : pad + l))};
}

function inline(v) {
  if (Array.isArray(v)) return '[]';
  if (v !== null && typeof v === 'object') return '{}';
  return scalar(v);
}

function lines(v, ind) {
  const pad = ' '.repeat(ind);
  const out = [];
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isContainer(item)) {
        const sub = lines(item, ind + 2);
        out.push(pad + '- ' + sub[0].slice(ind + 2), ...sub.slice(1));
      } else if (isBlock(item)) {
        const b = block(item, ind + 2);
        out.push(pad + '- ' + b.header, ...b.lines);
      } else {
        out.push(pad + '- ' + inline(item));
      }
    }
    return out;
  }
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    const key = scalar(k);
    if (isContainer(val)) {
      out.push(pad + key + ':', ...lines(val, ind + 2));
    } else if (isBlock(val)) {
      const b = block(val, ind + 2);
      out.push(pad + key + ': ' + b.header, ...b.lines);
    } else {
      out.push(pad + key + ': ' + inline(val));
    }
  }
  return out;
}

// toYAML renders a JSON value as block-style YAML.
export function toYAML(v) {
  if (!isContainer(v)) return inline(v) + '\n';
  return lines(v, 0).join('\n') + '\n';
}

// ---------- Field paths ----------

// parsePath splits a server field path into segments: "spec.uris[0].value"
// → ["spec", "uris", 0, "value"]; "metadata.labels[app.example.com/x]" →
// ["metadata", "labels", "app.example.com/x"].
export function parsePath(p) {
  const segs = [];
  let i = 0;
  while (i < p.length) {
    if (p[i] === '.') { i++; continue; }
    if (p[i] === '[') {
      const j = p.indexOf(']', i);
      const inner = j < 0 ? p.slice(i + 1) : p.slice(i + 1, j);
      segs.push(/^\d+$/.test(inner) ? Number(inner) : inner);
      i = j < 0 ? p.length : j + 1;
      continue;
    }
    let j = i;
    while (j < p.length && p[j] !== '.' && p[j] !== '[') j++;
    segs.push(p.slice(i, j));
    i = j;
  }
  return segs;
}

// Outline is the located fields of one Run: entries {path, line} with
// paths relative to the Run and absolute 1-based lines.
export class Outline {
  constructor(entries, startLine) {
    this.entries = entries;
    this.startLine = startLine;
  }
  // lineOf returns the line of the deepest field that path (a string or
  // segments) starts with, else the Run's first line.
  lineOf(path) {
    const segs = typeof path === 'string' ? parsePath(path) : path;
    let best = null, bestLen = -1;
    for (const e of this.entries) {
      if (e.path.length > segs.length || e.path.length <= bestLen) continue;
      let ok = true;
      for (let i = 0; i < e.path.length; i++) {
        if (String(e.path[i]) !== String(segs[i])) { ok = false; break; }
      }
      if (ok) { best = e; bestLen = e.path.length; }
    }
    return best ? best.line : this.startLine;
  }
  // value returns the scalar text at path (exact match), or undefined.
  value(path) {
    const key = JSON.stringify(typeof path === 'string' ? parsePath(path) : path);
    const e = this.entries.find(x => JSON.stringify(x.path) === key);
    return e ? e.value : undefined;
  }
}

// ---------- YAML structure ----------

const KEY_RE = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"{[\]},&*!|>%@`-][^#]*?|-[^\s#][^#]*?)[ \t]*:(?:[ \t]+|$)/;

function unquote(k) {
  if (k.startsWith('"')) { try { return JSON.parse(k); } catch { return k.slice(1, -1); } }
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

function stripComment(v) {
  // A " #" outside quotes starts a comment.
  let q = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (q) { if (c === q) q = ''; else if (c === '\\' && q === '"') i++; continue; }
    if (c === '"' || c === "'") { if (i === 0 || /\s/.test(v[i - 1])) q = c; continue; }
    if (c === '#' && (i === 0 || /\s/.test(v[i - 1]))) return v.slice(0, i).trimEnd();
  }
  return v.trimEnd();
}

function bracketDepth(v) {
  let d = 0, q = '';
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (q) { if (c === q) q = ''; else if (c === '\\' && q === '"') i++; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '[' || c === '{') d++;
    else if (c === ']' || c === '}') d--;
    else if (c === '#' && i > 0 && /\s/.test(v[i - 1])) break;
  }
  return d;
}

// yamlOutline locates the block-style keys and sequence items of one YAML
// document (lines[from..to), 0-based) and returns entries {path, line,
// value} with 1-based lines. Flow collections and block scalars are
// skipped as values; it never throws, whatever the input.
export function yamlOutline(lines, from, to) {
  const out = [];
  const stack = []; // open containers {indent, type: 'map'|'seq', path, index}
  let pending = null; // a key or item whose value is a nested block
  let skipDeeper = -1; // inside a block scalar: skip lines indented more than this
  let flow = 0; // open brackets of a flow collection spanning lines
  for (let i = from; i < to; i++) {
    const raw = lines[i];
    const body = raw.replace(/\s+$/, '');
    if (flow > 0) { flow += bracketDepth(body); continue; }
    const indent = raw.length - raw.replace(/^ +/, '').length;
    if (skipDeeper >= 0) {
      if (body.trim() === '' || indent > skipDeeper) continue;
      skipDeeper = -1;
    }
    const trimmed = body.slice(indent);
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    if (/^(?:---|\.\.\.)(?:\s|$)/.test(trimmed) || trimmed.startsWith('%')) continue;
    let col = indent, text = trimmed;
    for (let guard = 0; guard < 64; guard++) {
      const isSeq = text === '-' || text.startsWith('- ');
      const type = isSeq ? 'seq' : 'map';
      if (pending && (col > pending.indent || (col === pending.indent && isSeq && !pending.item))) {
        stack.push({indent: col, type, path: pending.path, index: -1});
      } else {
        while (stack.length && (stack[stack.length - 1].indent > col ||
          (stack[stack.length - 1].indent === col && stack[stack.length - 1].type !== type))) stack.pop();
        if (!stack.length) stack.push({indent: col, type, path: [], index: -1});
        else if (stack[stack.length - 1].indent < col) break; // a continued plain scalar
      }
      pending = null;
      const top = stack[stack.length - 1];
      if (isSeq) {
        top.index++;
        const path = top.path.concat(top.index);
        const rest = text.slice(1).replace(/^ +/, '');
        const restCol = col + (text.length - rest.length);
        out.push({path, line: i + 1, value: undefined});
        if (rest === '' || rest.startsWith('#')) { pending = {indent: col, path, item: true}; break; }
        if (rest === '-' || rest.startsWith('- ') || KEY_RE.test(rest)) {
          stack.push({indent: restCol, type: rest.startsWith('-') ? 'seq' : 'map', path, index: -1});
          col = restCol; text = rest;
          continue;
        }
        const v = stripComment(rest);
        out[out.length - 1].value = v;
        if (/^[|>]/.test(v)) skipDeeper = col;
        else if (/^[[{]/.test(v)) flow = Math.max(0, bracketDepth(v));
        break;
      }
      const m = KEY_RE.exec(text);
      if (!m) break; // not block structure we follow
      const path = top.path.concat(unquote(m[1].trim()));
      const v = stripComment(text.slice(m[0].length));
      out.push({path, line: i + 1, value: v === '' ? undefined : unquote(v)});
      if (v === '' || /^[&!][^\s]*$/.test(v)) pending = {indent: col, path};
      else if (/^[|>]/.test(v) || /^[&!]\S*\s+[|>]/.test(v)) skipDeeper = col;
      else if (/^[[{]/.test(v)) flow = Math.max(0, bracketDepth(v));
      break;
    }
  }
  return out;
}

// ---------- JSON structure ----------

// jsonValues scans text as a stream of JSON values and returns, for each
// top-level value, {start, end, line, entries} where entries are
// {path, line, start, end, value} for every member and element. It returns
// null when the text is not a well-formed stream (the server then reports
// the syntax error with its line).
export function jsonValues(text) {
  let i = 0, line = 1;
  const n = text.length;
  const ws = () => {
    while (i < n) {
      const c = text[i];
      if (c === '\n') { line++; i++; } else if (c === ' ' || c === '\t' || c === '\r') i++; else break;
    }
  };
  const str = () => {
    const s = i;
    i++;
    while (i < n && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text[i] === '\n') return null;
      i++;
    }
    if (i >= n) return null;
    i++;
    try { return JSON.parse(text.slice(s, i)); } catch { return null; }
  };
  const value = (path, entries) => {
    ws();
    const start = i, startLine = line;
    const c = text[i];
    let v;
    if (c === '{') {
      i++; ws();
      v = {};
      if (text[i] === '}') { i++; }
      else {
        for (;;) {
          ws();
          if (text[i] !== '"') return undefined;
          const k = str();
          if (k === null) return undefined;
          ws();
          if (text[i] !== ':') return undefined;
          i++;
          const child = value(path.concat(k), entries);
          if (child === undefined) return undefined;
          v[k] = child;
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === '}') { i++; break; }
          return undefined;
        }
      }
    } else if (c === '[') {
      i++; ws();
      v = [];
      if (text[i] === ']') { i++; }
      else {
        for (let k = 0; ; k++) {
          const child = value(path.concat(k), entries);
          if (child === undefined) return undefined;
          v.push(child);
          ws();
          if (text[i] === ',') { i++; continue; }
          if (text[i] === ']') { i++; break; }
          return undefined;
        }
      }
    } else if (c === '"') {
      v = str();
      if (v === null) return undefined;
    } else {
      const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
      if (!m) return undefined;
      i += m[0].length;
      v = JSON.parse(m[0]);
    }
    if (path.length) entries.push({path, line: startLine, start, end: i, value: v});
    return v;
  };
  const out = [];
  for (;;) {
    ws();
    if (i >= n) break;
    const entries = [];
    const start = i, startLine = line;
    const v = value([], entries);
    if (v === undefined) return null;
    out.push({start, end: i, line: startLine, value: v, entries});
  }
  return out;
}

// ---------- Manifests ----------

// isDocSeparator mirrors the server's YAML document split.
function isDocSeparator(l) {
  const t = l.replace(/[ \t\r]+$/, '');
  return t === '---' || t === '...' || t.startsWith('--- ') || t.startsWith('---\t');
}

const LIST_KINDS = new Set(['RunList', 'List']);

// RUN_TYPE is what a Run sent on its own must name. A RunList names the
// kind of its items, which may leave theirs out; each is sent alone, so the
// unit of such an item gets them (on its first line, or after its last,
// so that the server's line numbers still map back).
const RUN_TYPE = [['apiVersion', 'sprint/v1'], ['kind', 'Run']];

function missingType(has) {
  return RUN_TYPE.filter(([k]) => !has(k));
}

// typedJSON adds the missing apiVersion and kind just inside the item's '{'.
function typedJSON(text, item) {
  const add = missingType(k => Object.prototype.hasOwnProperty.call(item, k)).map(([k, v]) => `${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  if (!add.length) return text;
  const i = text.indexOf('{');
  const rest = text.slice(i + 1);
  return text.slice(0, i + 1) + add.join(', ') + (/^\s*}/.test(rest) ? '' : ', ') + rest;
}

// typedYAML adds the missing apiVersion and kind to a RunList item's lines:
// inside a flow mapping's '{', or as lines after a block mapping.
function typedYAML(lines, rel) {
  const add = missingType(k => rel.some(e => e.path.length === 1 && e.path[0] === k));
  if (!add.length) return lines;
  const i = lines[0].indexOf('{');
  if (i >= 0 && lines[0].slice(0, i).trim() === '') {
    const rest = lines[0].slice(i + 1);
    const first = lines[0].slice(0, i + 1) + add.map(([k, v]) => `${k}: ${v}`).join(', ') + (/^\s*}/.test(rest) ? '' : ', ') + rest;
    return [first, ...lines.slice(1)];
  }
  while (lines.length && lines[lines.length - 1].trim() === '') lines = lines.slice(0, -1);
  return [...lines, ...add.map(([k, v]) => `${k}: ${v}`)];
}

// splitManifest cuts a manifest into the Runs to send one by one. Each
// unit is {text, contentType, startLine, outline, doc, label}: text is a
// verbatim slice of the input (so a line the server names maps back by
// adding startLine - 1), outline locates its fields. Lists (kind RunList
// or List) and top-level sequences give one unit per item.
export function splitManifest(text) {
  text = text.replace(/^\ufeff/, '');
  const first = text.replace(/^\s+/, '')[0];
  if (first === '{' || first === '[') return splitJSON(text);
  return splitYAML(text);
}

function relative(entries, prefix) {
  const out = [];
  for (const e of entries) {
    if (e.path.length <= prefix.length) continue;
    let ok = true;
    for (let k = 0; k < prefix.length; k++) if (e.path[k] !== prefix[k]) { ok = false; break; }
    if (ok) out.push({...e, path: e.path.slice(prefix.length)});
  }
  return out;
}

function splitJSON(text) {
  const vals = jsonValues(text);
  if (!vals) return [{text, contentType: 'application/json', startLine: 1, outline: new Outline([], 1), doc: 1, label: 'document 1'}];
  const units = [];
  vals.forEach((val, d) => {
    const items = [];
    const v = val.value;
    const runList = v && typeof v === 'object' && !Array.isArray(v) && v.kind === 'RunList';
    if (Array.isArray(v)) v.forEach((_, k) => items.push([k]));
    else if (v && typeof v === 'object' && LIST_KINDS.has(v.kind) && Array.isArray(v.items)) v.items.forEach((_, k) => items.push(['items', k]));
    if (!items.length) {
      units.push({text: text.slice(val.start, val.end), contentType: 'application/json', startLine: val.line,
        outline: new Outline(val.entries, val.line), doc: d + 1, label: `document ${d + 1}`});
      return;
    }
    for (const p of items) {
      const e = val.entries.find(x => x.path.length === p.length && x.path.every((s, k) => s === p[k]));
      if (!e || e.value === null) continue;
      let unitText = text.slice(e.start, e.end);
      const item = runList ? v.items[p[1]] : null;
      if (item && typeof item === 'object' && !Array.isArray(item)) unitText = typedJSON(unitText, item);
      units.push({text: unitText, contentType: 'application/json', startLine: e.line,
        outline: new Outline(relative(val.entries, p), e.line), doc: d + 1, label: `document ${d + 1}, item ${p[p.length - 1] + 1}`});
    }
  });
  return units;
}

function splitYAML(text) {
  const lines = text.split(/\r\n|\n|\r/);
  const docs = [];
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    if (i === lines.length || isDocSeparator(lines[i])) {
      docs.push([start, i]);
      start = i + 1;
    }
  }
  const units = [];
  let d = 0;
  for (const [from, to] of docs) {
    const body = lines.slice(from, to);
    if (!body.some(l => l.trim() !== '' && !l.trim().startsWith('#'))) continue;
    d++;
    const entries = yamlOutline(lines, from, to);
    const rootSeq = entries.length && typeof entries[0].path[0] === 'number';
    const kind = entries.find(e => e.path.length === 1 && e.path[0] === 'kind');
    let prefix = null;
    if (rootSeq) prefix = [];
    else if (kind && LIST_KINDS.has(kind.value)) prefix = ['items'];
    if (prefix === null) {
      units.push({text: body.join('\n') + '\n', contentType: 'application/yaml', startLine: from + 1,
        outline: new Outline(entries, from + 1), doc: d, label: `document ${d}`});
      continue;
    }
    const items = entries.filter(e => e.path.length === prefix.length + 1 && typeof e.path[prefix.length] === 'number' &&
      prefix.every((s, k) => e.path[k] === s));
    items.forEach((it, k) => {
      const first = lines[it.line - 1];
      const dash = first.indexOf('-');
      // The item ends before the next line indented no deeper than its dash.
      let endLine = k + 1 < items.length ? items[k + 1].line - 1 : to; // 1-based inclusive end
      for (let j = it.line; j < endLine; j++) {
        const l = lines[j];
        if (l.trim() === '' || l.trim().startsWith('#')) continue;
        if (l.length - l.replace(/^ +/, '').length <= dash) { endLine = j; break; }
      }
      const cut = dash + 1 + (first.slice(dash + 1).length - first.slice(dash + 1).replace(/^ +/, '').length);
      let itemLines = [' '.repeat(cut) + first.slice(cut), ...lines.slice(it.line, endLine)]
        .map(l => (l.slice(0, cut).trim() === '' ? l.slice(cut) : l.replace(/^ +/, '')));
      if (!rootSeq && kind.value === 'RunList') itemLines = typedYAML(itemLines, relative(entries, it.path));
      units.push({text: itemLines.join('\n') + '\n', contentType: 'application/yaml', startLine: it.line,
        outline: new Outline(relative(entries, it.path), it.line), doc: d, label: `document ${d}, item ${k + 1}`});
    });
  }
  return units;
}

// ---------- Server errors → lines ----------

// locateErrors maps an ApiError from a dry run of unit to [{line, field,
// message}]: 422 causes by field path, 400 decode messages by their
// "line N" or "path: message" parts, anything else on the unit's first line.
export function locateErrors(unit, err) {
  const out = [];
  const at = (field, message) => out.push({line: field ? unit.outline.lineOf(field) : unit.startLine, field, message});
  let msg = err.message || '';
  const lm = /^(?:document \d+: )?line (\d+): ([\s\S]*)$/.exec(msg);
  if (err.causes && err.causes.length) {
    // A decode error (400) names its line in the message; its causes
    // name the field when there is one.
    for (const c of err.causes) {
      if (!c.field && err.code === 400 && lm) out.push({line: unit.startLine + Number(lm[1]) - 1, field: '', message: c.message});
      else at(c.field || '', c.message);
    }
    return out;
  }
  if (err.code === 400 && lm) {
    out.push({line: unit.startLine + Number(lm[1]) - 1, field: '', message: lm[2]});
    return out;
  }
  if (err.code === 400) {
    msg = msg.replace(/^document \d+: /, '');
    const parts = msg.split(/; (?=[A-Za-z_][\w.[\]/-]*: )/);
    for (const part of parts) {
      const m = /^([A-Za-z_][\w.[\]/-]*(?:\[[^\]]*\])*[\w.[\]/-]*): ([\s\S]+)$/.exec(part);
      if (m && /^(?:apiVersion|kind|metadata|spec|status|items)\b/.test(m[1])) at(m[1], m[2]);
      else at('', part);
    }
    return out;
  }
  at('', msg);
  return out;
}
