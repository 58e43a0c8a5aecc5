// VirtualTable renders a large list as a real <table> (so screen readers
// and keyboard users get table semantics) of which only the rows in view
// are in the DOM: fixed-height rows between two spacer rows. aria-rowcount
// and aria-rowindex tell assistive technology the full size. Arrow keys,
// Page Up/Down, Home and End move between rows.

import {h, replace} from './dom.js';

const OVERSCAN = 8;

export class VirtualTable {
  // columns: [{key, label, cls, sortable, render(row) → Node|string, title(row)?, num?}]
  // rowKey(row) → string; rowHref(row) → link of the first cell.
  constructor({columns, rowKey, rowHref, label, rowHeight = 32, onSort, empty}) {
    this.columns = columns;
    this.rowKey = rowKey;
    this.rowHref = rowHref;
    this.rowHeight = rowHeight;
    this.onSort = onSort;
    this.emptyText = empty || (() => 'Nothing to show.');
    this.rows = [];
    this.sort = {key: '', dir: 'ascending'};
    this.frame = 0;
    this.focusKey = null;
    this.rendered = {start: -1, end: -1, count: -1};

    this.head = h('tr', {'aria-rowindex': '1'});
    this.topSpacer = h('td', {colspan: String(columns.length)});
    this.bottomSpacer = h('td', {colspan: String(columns.length)});
    this.body = h('tbody');
    this.table = h('table', {class: 'runs', 'aria-label': label, 'aria-rowcount': '1'},
      h('colgroup', null, columns.map(c => h('col', {class: c.cls}))),
      h('thead', null, this.head), this.body);
    this.emptyEl = h('div', {class: 'empty', role: 'status'});
    this.el = h('div', {class: 'vscroll'}, this.table, this.emptyEl);
    this.el.addEventListener('scroll', () => this.schedule(), {passive: true});
    this.body.addEventListener('keydown', ev => this.onKey(ev));
    this.body.addEventListener('focusin', ev => {
      const tr = ev.target.closest('tr.row');
      if (tr) this.focusKey = tr.dataset.key;
    });
    this.resize = new ResizeObserver(() => this.schedule());
    this.resize.observe(this.el);
    this.renderHead();
  }

  destroy() {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  setSort(key, dir) {
    this.sort = {key, dir};
    this.renderHead();
  }

  renderHead() {
    replace(this.head, this.columns.map(c => {
      const sorted = this.sort.key === c.key;
      return h('th', {scope: 'col', class: c.cls, 'aria-sort': c.sortable ? (sorted ? this.sort.dir : 'none') : null},
        c.sortable
          ? h('button', {type: 'button', onclick: () => this.onSort && this.onSort(c.key)},
            c.label, sorted ? (this.sort.dir === 'ascending' ? ' ▲' : ' ▼') : '')
          : c.label);
    }));
  }

  // setRows replaces the rows shown and re-renders what is in view.
  setRows(rows) {
    this.rows = rows;
    this.rendered.count = -1;
    this.table.setAttribute('aria-rowcount', String(rows.length + 1));
    this.render();
  }

  // refresh re-renders the rows in view (their cells may have changed).
  refresh() {
    this.rendered.count = -1;
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => { this.frame = 0; this.render(); });
  }

  render() {
    const n = this.rows.length;
    const rh = this.rowHeight;
    const view = this.el.clientHeight || 600;
    const top = Math.max(0, this.el.scrollTop - rh); // less the header row
    let start = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const end = Math.min(n, Math.ceil((top + view) / rh) + OVERSCAN);
    start = Math.min(start, end);
    if (start === this.rendered.start && end === this.rendered.end && n === this.rendered.count) return;
    this.rendered = {start, end, count: n};
    const hadFocus = this.body.contains(document.activeElement);
    this.topSpacer.style.height = (start * rh) + 'px';
    this.bottomSpacer.style.height = ((n - end) * rh) + 'px';
    const trs = [h('tr', {class: 'spacer', 'aria-hidden': 'true'}, this.topSpacer)];
    for (let i = start; i < end; i++) trs.push(this.renderRow(this.rows[i], i));
    trs.push(h('tr', {class: 'spacer', 'aria-hidden': 'true'}, this.bottomSpacer));
    replace(this.body, trs);
    this.emptyEl.textContent = n ? '' : this.emptyText();
    this.emptyEl.hidden = n > 0;
    if (hadFocus && this.focusKey) this.focusRow(this.focusKey);
  }

  renderRow(row, i) {
    const key = this.rowKey(row);
    return h('tr', {class: 'row', 'aria-rowindex': String(i + 2), dataset: {key, index: String(i)}},
      this.columns.map((c, ci) => {
        const content = c.render(row);
        const title = c.title ? c.title(row) : (typeof content === 'string' ? content : null);
        return h('td', {class: c.num ? 'num' : null, title: title || null},
          ci === 0 ? h('a', {href: this.rowHref(row), text: content}) : content);
      }));
  }

  focusRow(key) {
    const tr = this.body.querySelector(`tr.row[data-key="${CSS.escape(key)}"]`);
    const a = tr && tr.querySelector('a');
    if (a && document.activeElement !== a) a.focus({preventScroll: true});
  }

  // scrollToIndex brings row i into view and renders it now.
  scrollToIndex(i) {
    const rh = this.rowHeight;
    const rowTop = (i + 1) * rh; // below the header
    const view = this.el.clientHeight;
    if (rowTop - rh < this.el.scrollTop) this.el.scrollTop = rowTop - rh;
    else if (rowTop + rh > this.el.scrollTop + view) this.el.scrollTop = rowTop + rh - view;
    this.render();
  }

  onKey(ev) {
    const tr = ev.target.closest('tr.row');
    if (!tr) return;
    const i = Number(tr.dataset.index);
    const page = Math.max(1, Math.floor(this.el.clientHeight / this.rowHeight) - 1);
    const to = {ArrowDown: i + 1, ArrowUp: i - 1, PageDown: i + page, PageUp: i - page, Home: 0, End: this.rows.length - 1}[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const j = Math.max(0, Math.min(this.rows.length - 1, to));
    this.focusKey = this.rowKey(this.rows[j]);
    this.scrollToIndex(j);
    this.focusRow(this.focusKey);
  }
}
