// The console's shell: navigation, hash routing, the login dialog and the
// connection indicator. Pages are modules with mount(el, ctx) returning
// {unmount, update?}; adding a page is one entry in ROUTES (and one in NAV).

import {Api} from './api.js';
import {h, replace, errorBox} from './dom.js';
import runsPage from './pages/runs.js';
import runPage from './pages/run.js';
import applyPage from './pages/apply.js';
import clusterPage from './pages/cluster.js';
import schedulesPage from './pages/schedules.js';
import schedulePage from './pages/schedule.js';
import pipelinePage from './pages/pipeline.js';

// NAV is the main navigation, in order.
const NAV = [
  {id: 'runs', label: 'Runs', href: '#/runs'},
  {id: 'schedules', label: 'Schedules', href: '#/schedules'},
  {id: 'apply', label: 'Apply', href: '#/apply'},
  {id: 'cluster', label: 'Cluster', href: '#/cluster'},
];

// ROUTES map a hash path to a page; groups of the pattern are its params.
const ROUTES = [
  {pattern: /^\/runs\/?$/, nav: 'runs', page: runsPage},
  {pattern: /^\/runs\/([^/]+)$/, nav: 'runs', page: runPage},
  {pattern: /^\/pipelines\/([^/]+)$/, nav: 'runs', page: pipelinePage},
  {pattern: /^\/schedules\/?$/, nav: 'schedules', page: schedulesPage},
  {pattern: /^\/schedules\/([^/]+)$/, nav: 'schedules', page: schedulePage},
  {pattern: /^\/apply\/?$/, nav: 'apply', page: applyPage},
  {pattern: /^\/cluster\/?$/, nav: 'cluster', page: clusterPage},
];

const main = document.getElementById('main');
const conn = document.getElementById('conn');
const nodeEl = document.getElementById('node');
const signout = document.getElementById('signout');
const alerts = document.getElementById('alerts');
const login = document.getElementById('login');
const loginForm = document.getElementById('login-form');
const loginToken = document.getElementById('login-token');
const loginError = document.getElementById('login-error');

let current = null; // {route, path, view}
let firstRoute = true;
let signingIn = null; // the promise of an open login dialog

const api = new Api({onUnauthorized: () => { signIn(); }});

const CONN_TEXT = {loading: 'Loading…', live: 'Live', reconnecting: 'Reconnecting…', error: 'Disconnected', stopped: ''};

// ctx is what pages get: the API, navigation and shell services.
const ctx = {
  api,
  navigate(hash) { location.hash = hash; },
  setTitle(t) { document.title = t ? `${t} · sprint` : 'sprint'; },
  setConn(state, detail) {
    conn.dataset.state = state || '';
    conn.textContent = CONN_TEXT[state] ?? '';
    conn.title = detail && detail.message ? detail.message : '';
  },
  // replaceQuery rewrites the hash's query without a navigation, so that
  // filters are part of the address (shareable, kept on reload).
  replaceQuery(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) q.set(k, v);
    const path = location.hash.replace(/^#/, '').split('?')[0];
    const s = q.toString();
    history.replaceState(null, '', '#' + path + (s ? '?' + s : ''));
  },
  alert(err, title) {
    replace(alerts, errorBox(err, title));
  },
  clearAlert() { replace(alerts); },
};

function renderNav(active) {
  const ul = document.getElementById('nav');
  replace(ul, NAV.map(n => h('li', null, h('a', {href: n.href, 'aria-current': n.id === active ? 'page' : null, text: n.label}))));
}

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/runs';
  const [path, qs] = raw.split('?');
  return {path, query: new URLSearchParams(qs || '')};
}

function route() {
  const {path, query} = parseHash();
  let match = null, r = null;
  for (const cand of ROUTES) {
    match = cand.pattern.exec(path);
    if (match) { r = cand; break; }
  }
  if (current && current.route === r && current.path === path && current.view.update) {
    current.view.update(query);
    return;
  }
  if (current) { current.view.unmount(); current = null; }
  ctx.clearAlert();
  ctx.setConn('');
  main.classList.remove('fill');
  replace(main);
  if (!r) {
    renderNav('');
    ctx.setTitle('Not found');
    main.append(h('h1', {tabindex: '-1', text: 'Not found'}), h('p', null, 'The console has no page ', h('code', {text: path}), '. ', h('a', {href: '#/runs', text: 'Go to Runs'})));
    return;
  }
  renderNav(r.nav);
  const params = match.slice(1).map(decodeURIComponent);
  const view = r.page.mount(main, ctx, params, query);
  current = {route: r, path, view};
  if (!firstRoute) {
    const h1 = main.querySelector('h1');
    if (h1) h1.focus({preventScroll: true});
  }
  firstRoute = false;
}

// remount restarts the current page, e.g. after signing in again.
function remount() {
  if (current) { current.view.unmount(); current = null; }
  route();
}

async function showNode() {
  try {
    const c = await api.get('/api/v1/cluster');
    nodeEl.textContent = `node ${c.nodeID}` + (c.leader && c.leader !== c.nodeID ? ` · leader ${c.leader}` : c.leader ? ' · leader' : '');
  } catch (e) {
    if (e.code === 0) ctx.alert(e, 'Cannot reach the sprint API');
  }
}

// signIn shows the login dialog (once, however many calls got a 401) and
// resolves when a token that the server accepts is stored.
function signIn() {
  if (signingIn) return signingIn;
  api.token = '';
  signout.hidden = true;
  if (current) { current.view.unmount(); current = null; }
  replace(main, h('p', {class: 'muted', text: 'Sign in to continue.'}));
  ctx.setConn('');
  signingIn = new Promise(resolve => {
    loginError.textContent = '';
    loginToken.value = '';
    login.showModal();
    loginToken.focus();
    const onSubmit = async ev => {
      ev.preventDefault();
      const token = loginToken.value.trim();
      if (!token) { loginError.textContent = 'Enter a token.'; return; }
      loginError.textContent = '';
      try {
        await api.get('/api/v1/cluster', {token});
      } catch (e) {
        loginError.textContent = e.code === 401 ? 'The node did not accept this token.' : `Could not check the token: ${e.message}`;
        loginToken.setAttribute('aria-invalid', 'true');
        loginToken.select();
        return;
      }
      loginToken.removeAttribute('aria-invalid');
      api.token = token;
      loginForm.removeEventListener('submit', onSubmit);
      login.close();
      signingIn = null;
      signout.hidden = false;
      resolve();
      showNode();
      remount();
    };
    loginForm.addEventListener('submit', onSubmit);
  });
  return signingIn;
}

// The login cannot be dismissed: without a token nothing works.
login.addEventListener('cancel', ev => ev.preventDefault());

signout.addEventListener('click', () => { signIn(); });

document.getElementById('skip').addEventListener('click', ev => {
  ev.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', route);

// boot routes at once: the page's first API call doubles as the check
// whether a token is needed (a 401 opens the login), so nothing waits for
// a separate round trip before the first rows can paint.
function boot() {
  renderNav('');
  if (api.token) signout.hidden = false;
  route();
  showNode();
}

boot();
