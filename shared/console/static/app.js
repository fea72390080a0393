// The console's shell: sign-in, the navigation, the integration picker, the
// language switch and the hash router (#/accounts, #/assets/123, ...).
import { h, clear, button, field, input, select, formError, showProblem, clearProblem, busy, loading, errorState, announce } from './lib/dom.js';
import { t, setLang, lang, preferredLang, LANGUAGES } from './lib/i18n.js';
import { api } from './lib/api.js';
import { session, setSession, signOut, onSession, bearerOf } from './lib/session.js';
import { connectionsScreen } from './screens/connections.js';
import { integrationsScreen } from './screens/integrations.js';
import { accountsScreen } from './screens/accounts.js';
import { importsScreen } from './screens/imports.js';
import { assetsScreen } from './screens/assets.js';
import { alertsScreen } from './screens/alerts.js';
import { usersScreen } from './screens/users.js';
import { auditScreen } from './screens/audit.js';

const SCREENS = [
  { id: 'connections', label: 'nav.connections', render: connectionsScreen },
  { id: 'integrations', label: 'nav.integrations', render: integrationsScreen },
  { id: 'accounts', label: 'nav.accounts', render: accountsScreen, needsIntegration: true },
  { id: 'imports', label: 'nav.imports', render: importsScreen, needsIntegration: true },
  { id: 'assets', label: 'nav.assets', render: assetsScreen, needsIntegration: true },
  { id: 'alerts', label: 'nav.alerts', render: alertsScreen, needsIntegration: true },
  { id: 'users', label: 'nav.users', render: usersScreen },
  { id: 'audit', label: 'nav.audit', render: auditScreen },
];

const root = document.getElementById('app');
let integrations = [];
let stopScreen = null;

export function currentIntegration() { return sessionStorage.getItem('rmb.integration') || ''; }

function langSwitch() {
  const s = select(Object.entries(LANGUAGES).map(([v, l]) => ({ value: v, label: l, selected: v === lang() })), { id: 'lang' });
  s.addEventListener('change', async () => { await setLang(s.value); render(); announce(t('common.languageChanged')); });
  return field(t('common.language'), s, { inline: true });
}

// ---------------------------------------------------------------- sign-in

function signInScreen(reason) {
  clear(root);
  const keyErr = formError();
  const key = input({ type: 'password', autocomplete: 'off', spellcheck: 'false', name: 'apiKey' });
  const keyForm = h('form', { class: 'card', 'aria-labelledby': 'signin-key-title' },
    h('h2', { id: 'signin-key-title', text: t('signin.apiKeyTitle') }),
    h('p', { class: 'muted', text: t('signin.apiKeyHint') }),
    field(t('signin.apiKey'), key, { required: true, name: 'apiKey' }),
    keyErr,
    h('button', { type: 'submit', class: 'primary', id: 'signin-key' }, t('signin.submit')));
  keyForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearProblem(keyForm, keyErr);
    await busy(keyForm.querySelector('button[type=submit]'), async () => {
      try {
        await startSession({ kind: 'apiKey', token: key.value.trim() });
      } catch (e) { showProblem(keyForm, keyErr, e); }
    });
  });

  const pwErr = formError();
  const email = input({ type: 'email', autocomplete: 'username', name: 'email' });
  const pw = input({ type: 'password', autocomplete: 'current-password', name: 'password' });
  const pwForm = h('form', { class: 'card', 'aria-labelledby': 'signin-pw-title' },
    h('h2', { id: 'signin-pw-title', text: t('signin.userTitle') }),
    field(t('signin.email'), email, { required: true, name: 'email' }),
    field(t('signin.password'), pw, { required: true, name: 'password' }),
    pwErr,
    h('button', { type: 'submit', class: 'primary', id: 'signin-user' }, t('signin.submit')));
  pwForm.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearProblem(pwForm, pwErr);
    await busy(pwForm.querySelector('button[type=submit]'), async () => {
      try {
        const res = await login({ email: email.value.trim(), password: pw.value });
        if (res.challenge) { newPasswordScreen(email.value.trim(), res); return; }
        await startSession({ kind: 'user', token: bearerOf(res), refreshToken: res.refreshToken, email: email.value.trim() });
      } catch (e) { showProblem(pwForm, pwErr, loginProblem(e)); }
    });
  });

  root.appendChild(h('main', { id: 'main', class: 'signin' },
    h('header', { class: 'signin-head' }, h('h1', { text: t('app.title') }), langSwitch()),
    reason ? h('p', { class: 'notice', role: 'status', text: t('signin.reason.' + reason) }) : null,
    h('div', { class: 'signin-grid' }, pwForm, keyForm)));
  email.focus();
}

// login is POST /v1/auth/login (users issue): tokens, or a challenge
// (NEW_PASSWORD_REQUIRED) answered with a new password and the session.
async function login(body) {
  const res = await api('POST', '/v1/auth/login', body, { anonymous: true });
  const challenge = res && (res.challenge || res.challengeName);
  return Object.assign({}, res, { challenge });
}

function loginProblem(e) {
  if (e && (e.status === 404 || e.status === 501)) {
    return { problem: { status: e.status, detail: t('signin.userUnavailable') } };
  }
  return e;
}

function newPasswordScreen(email, res) {
  clear(root);
  const err = formError();
  const p1 = input({ type: 'password', autocomplete: 'new-password', name: 'newPassword' });
  const p2 = input({ type: 'password', autocomplete: 'new-password' });
  const form = h('form', { class: 'card', 'aria-labelledby': 'np-title' },
    h('h2', { id: 'np-title', text: t('signin.newPasswordTitle') }),
    h('p', { class: 'muted', text: t('signin.newPasswordHint') }),
    field(t('signin.newPassword'), p1, { required: true, name: 'newPassword' }),
    field(t('signin.repeatPassword'), p2, { required: true, name: 'repeat' }),
    err,
    h('button', { type: 'submit', class: 'primary', id: 'set-password' }, t('signin.setPassword')));
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearProblem(form, err);
    if (p1.value !== p2.value) {
      showProblem(form, err, { problem: { errors: [{ field: 'repeat', message: t('signin.mismatch') }] } });
      return;
    }
    await busy(form.querySelector('button[type=submit]'), async () => {
      try {
        const out = await api('POST', '/v1/auth/new-password', { email, newPassword: p1.value, session: res.session }, { anonymous: true });
        await startSession({ kind: 'user', token: bearerOf(out), refreshToken: out.refreshToken, email });
      } catch (e) { showProblem(form, err, e); }
    });
  });
  root.appendChild(h('main', { id: 'main', class: 'signin' }, h('h1', { text: t('app.title') }), form));
  p1.focus();
}

// startSession checks the credential with GET /v1/me, which says the
// tenant and role, and opens the console.
async function startSession(s) {
  const prev = session();
  setSession(Object.assign({}, s, { role: '' }));
  try {
    const me = await api('GET', '/v1/me');
    setSession(Object.assign({}, s, { role: me.role, tenantId: me.tenantId, name: me.name || me.email || s.email || me.keyId || '' }));
  } catch (e) {
    if (prev) setSession(prev); else sessionStorage.removeItem('rmb.session');
    throw e;
  }
  if (!location.hash || location.hash === '#/') history.replaceState(null, '', '#/connections');
  await loadIntegrations();
  render();
}

async function loadIntegrations() {
  try {
    const res = await api('GET', '/v1/integrations?limit=500');
    integrations = res.items || [];
  } catch (_) { integrations = []; }
  const cur = currentIntegration();
  if (!integrations.find(i => i.id === cur)) {
    if (integrations.length) sessionStorage.setItem('rmb.integration', integrations[0].id);
    else sessionStorage.removeItem('rmb.integration');
  }
}

// ---------------------------------------------------------------- shell

function route() {
  const parts = (location.hash || '#/connections').replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const screen = SCREENS.find(s => s.id === parts[0]) || SCREENS[0];
  return { screen, args: parts.slice(1) };
}

function render() {
  const s = session();
  if (!s || !s.role) { signInScreen(); return; }
  if (stopScreen) { stopScreen(); stopScreen = null; }
  const { screen, args } = route();
  clear(root);
  const picker = select([{ value: '', label: t('shell.noIntegration') }].concat(integrations.map(i => ({ value: i.id, label: i.name, selected: i.id === currentIntegration() }))), { id: 'integration' });
  picker.addEventListener('change', () => { sessionStorage.setItem('rmb.integration', picker.value); render(); });
  const nav = h('nav', { 'aria-label': t('nav.label'), class: 'nav' },
    h('ul', {}, SCREENS.map(sc => h('li', {}, h('a', { href: '#/' + sc.id, 'aria-current': sc === screen ? 'page' : null, text: t(sc.label), id: 'nav-' + sc.id })))));
  const top = h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/connections', text: t('app.title') }),
    field(t('shell.integration'), picker, { inline: true }),
    langSwitch(),
    h('span', { class: 'who' }, h('span', { text: s.name || '' }), ' ', h('span', { class: 'badge role', id: 'role', text: t('role.' + s.role) })),
    button(t('shell.signOut'), async () => {
      if (s.kind === 'user') await api('POST', '/v1/auth/logout', {}).catch(() => null);
      signOut();
    }, { id: 'signout' }));
  const main = h('main', { id: 'main', tabindex: '-1' });
  root.appendChild(h('div', { class: 'shell' }, top, nav, main));
  const ctx = { iid: currentIntegration(), integrations, args, reloadIntegrations: async () => { await loadIntegrations(); render(); } };
  main.appendChild(h('h1', { text: t(screen.label) }));
  if (screen.needsIntegration && !ctx.iid) {
    main.appendChild(h('div', { class: 'state empty' }, h('p', { text: t('shell.pickIntegration') }), h('a', { href: '#/integrations', text: t('shell.goIntegrations') })));
    return;
  }
  const body = h('div', { class: 'screen' });
  main.appendChild(body);
  try {
    stopScreen = screen.render(body, ctx) || null;
  } catch (e) {
    body.appendChild(errorState(e));
  }
}

async function boot() {
  await setLang(preferredLang());
  onSession((s, reason) => { if (!s) signInScreen(reason); });
  window.addEventListener('hashchange', () => { render(); const m = document.getElementById('main'); if (m) m.focus(); });
  const s = session();
  if (s && s.role) {
    clear(root).appendChild(loading());
    await loadIntegrations();
  }
  render();
}

boot().catch(e => { clear(root).appendChild(errorState(e)); });
