// Small DOM helpers. Every text goes in through textContent or attributes,
// never through innerHTML, so names, labels and log output from the API
// cannot become markup.

// h builds an element: h('a', {href: '#/x', class: 'y', onclick: f}, 'text', child).
// Attributes: class, text, dataset ({k: v}), on<event> handlers, boolean
// true sets an empty attribute, false/null/undefined leaves it out.
export function h(tag, attrs, ...children) {
  const el = tag.startsWith('svg:')
    ? document.createElementNS('http://www.w3.org/2000/svg', tag.slice(4))
    : document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === false || v === null || v === undefined) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden') el[k] = v;
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// clear removes every child of el.
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// replace swaps el's children for the given ones.
export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

// errorBox renders an API error (an ApiError, or anything with a message)
// as a box naming the status, the message and each field cause.
export function errorBox(err, title) {
  const causes = (err && err.causes) || [];
  return h('div', {class: 'box error', role: 'alert'},
    h('h3', {text: title || (err && err.code ? `${err.code} ${err.reason || ''}`.trim() : 'Error')}),
    h('div', {text: (err && err.message) || String(err)}),
    causes.length ? h('ul', null, causes.map(c => h('li', null, c.field ? h('code', {text: c.field}) : null, c.field ? ': ' : '', c.message))) : null);
}

// confirmDialog shows a modal dialog and resolves true when the user
// confirms. The dialog is removed afterwards; focus returns to where it was.
export function confirmDialog({title, body, confirm = 'OK', danger = false}) {
  return new Promise(resolve => {
    const back = document.activeElement;
    const dlg = h('dialog', {'aria-labelledby': 'dlg-title'},
      h('h2', {id: 'dlg-title', text: title}),
      typeof body === 'string' ? h('p', {text: body}) : body,
      h('form', {method: 'dialog', class: 'buttons'},
        h('button', {type: 'submit', value: 'cancel', text: 'Cancel'}),
        h('button', {type: 'submit', value: 'ok', class: danger ? 'danger solid' : 'primary', text: confirm, autofocus: true})));
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back && back.focus) back.focus();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.appendChild(dlg);
    dlg.showModal();
  });
}

// promptDialog asks for one value and resolves it, or null when the user
// cancels. validate(value) may be async; a non-empty answer is shown as the
// problem and keeps the dialog open (e.g. "name taken" from the server).
export function promptDialog({title, label, value = '', confirm = 'OK', help = '', validate}) {
  return new Promise(resolve => {
    const back = document.activeElement;
    const input = h('input', {type: 'text', id: 'dlg-input', value, spellcheck: 'false', autocomplete: 'off', required: true,
      'aria-describedby': help ? 'dlg-help' : null});
    const err = h('p', {class: 'error-text', role: 'alert'});
    const ok = h('button', {type: 'submit', class: 'primary', text: confirm});
    const form = h('form', {method: 'dialog'},
      h('label', {for: 'dlg-input', text: label}), input,
      help ? h('small', {id: 'dlg-help', class: 'muted', text: help}) : null, err,
      h('div', {class: 'buttons'},
        h('button', {type: 'button', text: 'Cancel', onclick: () => dlg.close('cancel')}), ok));
    const dlg = h('dialog', {'aria-labelledby': 'dlg-title'}, h('h2', {id: 'dlg-title', text: title}), form);
    let result = null;
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      const v = input.value.trim();
      ok.disabled = true;
      let problem = '';
      try {
        problem = validate ? await validate(v) : '';
      } catch (e) {
        problem = (e && e.message) || String(e);
      }
      ok.disabled = false;
      if (problem) {
        err.textContent = problem;
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      result = v;
      dlg.close('ok');
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back && back.focus) back.focus();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    input.select();
  });
}
