// Connections: the list with status and last test, "Test & save" for a new
// or changed connection with the credential fields of its provider.
import { h, clear, field, input, select, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, badge, fmtTime, panel, announce } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, changedElsewhere } from '../lib/api.js';
import { can } from '../lib/session.js';

let providersCache = null;
export async function providers() {
  if (!providersCache) {
    const res = await fetch('/console/providers.json', { credentials: 'omit' });
    providersCache = await res.json();
  }
  return providersCache;
}

function statusBadge(c) {
  return badge(t('status.' + c.status), c.status === 'ok' ? 'ok' : 'bad');
}

function capabilities(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h('div', { class: 'caps' }, h('span', { class: 'muted', text: t('connections.capabilities') + ' ' }),
    list.map(c => badge(c, 'cap')));
}

// canonical copies a JSON value with its object keys sorted.
function canonical(v) {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map(k => [k, canonical(v[k])]));
  return v;
}

// sameJSON reports whether two JSON values are equal (key order aside).
function sameJSON(a, b) { return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b)); }

// changedSettings returns the settings to PATCH when the form's JSON, edited
// from conn.settings, is edited: PATCH replaces them whole, so they are the
// settings stored now (now: the connection read at save time) with only
// the keys edited in the form set or removed; a key changed through the
// API meanwhile is kept. What is not a JSON object is sent as it is, for
// the API to refuse.
function changedSettings(conn, now, edited) {
  if (!edited || typeof edited !== 'object' || Array.isArray(edited)) return edited;
  const shown = conn.settings || {};
  const out = structuredClone(now.settings || {});
  for (const k of new Set([...Object.keys(shown), ...Object.keys(edited)])) {
    if (sameJSON(edited[k], shown[k])) continue;
    if (k in edited) out[k] = edited[k]; else delete out[k];
  }
  return out;
}

export function connectionsScreen(el) {
  const listBox = h('div');
  const formBox = h('div');
  el.append(
    h('div', { class: 'toolbar' }, can('admin') ? button(t('connections.add'), () => showForm(null), { class: 'primary', id: 'add-connection' }) : null),
    formBox, listBox);

  async function load() {
    clear(listBox).appendChild(loading());
    try {
      const res = await api('GET', '/v1/connections?limit=500');
      clear(listBox);
      if (!res.items.length) {
        listBox.appendChild(emptyState(can('admin') ? t('connections.emptyAdmin') : t('connections.empty')));
        return;
      }
      listBox.appendChild(table(t('nav.connections'), [
        { label: t('common.name'), key: 'name', cell: c => c.name },
        { label: t('connections.provider'), key: 'provider', cell: c => `${c.provider} (${c.kind.toUpperCase()})` },
        { label: t('connections.baseUrl'), key: 'baseUrl', cell: c => h('code', { text: c.baseUrl }) },
        { label: t('common.status'), key: 'status', cell: c => h('span', {}, statusBadge(c), c.testDetail ? h('span', { class: 'reason', text: ' ' + c.testDetail }) : null, capabilities(c.capabilities)) },
        { label: t('connections.testedAt'), key: 'testedAt', cell: c => fmtTime(c.testedAt) },
        { label: t('common.actions'), key: 'actions', cell: c => h('span', { class: 'actions' },
          can('operator') ? button(t('connections.test'), e => retest(e.target, c), { 'aria-label': t('connections.testNamed', { name: c.name }) }) : null,
          can('admin') ? button(t('common.edit'), () => showForm(c), { 'aria-label': t('common.editNamed', { name: c.name }) }) : null,
          can('admin') ? button(t('common.delete'), e => remove(e.target, c), { class: 'danger', 'aria-label': t('common.deleteNamed', { name: c.name }) }) : null) },
      ], res.items.map(c => Object.assign({ __key: c.id }, c)), { id: 'connections-table' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, load)); }
  }

  async function retest(btn, c) {
    await busy(btn, async () => {
      try {
        const r = await api('POST', `/v1/connections/${encodeURIComponent(c.id)}/test`);
        announce(r.status === 'ok' ? t('connections.testOk', { name: c.name }) : t('connections.testFailed', { name: c.name, detail: r.detail || '' }));
      } catch (e) { announce(e.message); }
    });
    load();
  }

  async function remove(btn, c) {
    if (!confirm(t('connections.confirmDelete', { name: c.name }))) return;
    await busy(btn, async () => {
      try { await api('DELETE', `/v1/connections/${encodeURIComponent(c.id)}`); announce(t('common.deleted')); } catch (e) { alert(e.message); }
    });
    load();
  }

  // showForm edits a connection (read afresh, not the list's copy) or adds
  // one. Its settings are shown whole as JSON and sent only when changed
  // there, and then only the keys changed there (changedSettings), so that
  // saving never writes back settings someone else changed meanwhile. The
  // save reads the connection again and sends that read's ETag in
  // If-Match: a change landing in between is a 412, and the form is
  // reloaded (notice says why).
  async function showForm(listed, notice) {
    clear(formBox);
    let conn = listed;
    if (listed) {
      formBox.appendChild(loading());
      try { conn = await api('GET', `/v1/connections/${encodeURIComponent(listed.id)}`); } catch (e) { clear(formBox).appendChild(errorState(e, () => showForm(listed))); return; }
      clear(formBox);
    }
    const provs = await providers();
    const err = formError();
    const name = input({ name: 'name', value: conn ? conn.name : '' });
    const provider = select([{ value: '', label: t('connections.chooseProvider') }].concat(Object.entries(provs).map(([id, p]) => ({ value: id, label: `${p.label} (${p.kind.toUpperCase()})`, selected: conn && conn.provider === id }))), { name: 'provider' });
    if (conn) provider.disabled = true;
    const baseUrl = input({ type: 'url', name: 'baseUrl', value: conn ? conn.baseUrl : '', placeholder: 'https://' });
    const credBox = h('fieldset', { class: 'creds' });
    const settings = h('textarea', { name: 'settings', rows: '3', spellcheck: 'false' });
    const showSettings = c => { settings.value = c && c.settings && Object.keys(c.settings).length ? JSON.stringify(c.settings, null, 2) : ''; };
    showSettings(conn);
    const result = h('div', { role: 'status' });
    const fillCreds = () => {
      clear(credBox).appendChild(h('legend', { text: t('connections.credentials') }));
      const p = provs[provider.value];
      if (!p) { credBox.appendChild(h('p', { class: 'muted', text: t('connections.pickProviderFirst') })); return; }
      if (conn) credBox.appendChild(h('p', { class: 'muted', text: t('connections.credentialsKeep') }));
      for (const f of p.fields) {
        const ctl = input({ type: f.secret ? 'password' : 'text', name: 'credentials.' + f.name, autocomplete: 'off', spellcheck: 'false' });
        ctl.dataset.cred = f.name;
        credBox.appendChild(field(f.label || f.name, ctl, { required: f.required && !conn, name: 'credentials.' + f.name }));
      }
      if (!baseUrl.value && p.baseUrlExample) baseUrl.placeholder = p.baseUrlExample;
    };
    provider.addEventListener('change', fillCreds);
    fillCreds();
    const save = h('button', { type: 'submit', class: 'primary', id: 'test-save' }, t('connections.testSave'));
    const form = h('form', { class: 'card', id: 'connection-form', novalidate: true },
      field(t('common.name'), name, { required: true, name: 'name' }),
      field(t('connections.provider'), provider, { required: true, name: 'provider' }),
      field(t('connections.baseUrl'), baseUrl, { required: true, name: 'baseUrl', hint: t('connections.baseUrlHint') }),
      credBox,
      field(t('connections.settings'), settings, { name: 'settings', hint: t('connections.settingsHint') }),
      err, result,
      h('div', { class: 'buttons' }, save, button(t('common.cancel'), () => clear(formBox))));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      clear(result);
      const creds = {};
      for (const c of credBox.querySelectorAll('[data-cred]')) if (c.value !== '') creds[c.dataset.cred] = c.value;
      let st;
      if (settings.value.trim()) {
        try { st = JSON.parse(settings.value); } catch (_) {
          showProblem(form, err, { problem: { errors: [{ field: 'settings', message: t('connections.settingsJson') }] } });
          return;
        }
      }
      const p = provs[provider.value];
      await busy(save, async () => {
        try {
          let saved;
          if (conn) {
            const patch = {};
            if (name.value !== conn.name) patch.name = name.value;
            if (baseUrl.value !== conn.baseUrl) patch.baseUrl = baseUrl.value;
            if (Object.keys(creds).length) patch.credentials = creds;
            const path = `/v1/connections/${encodeURIComponent(conn.id)}`;
            const cur = await api('GET', path, undefined, { withETag: true });
            if (st !== undefined && !sameJSON(st, conn.settings || {})) patch.settings = changedSettings(conn, cur.data, st);
            saved = await api('PATCH', path, patch, { ifMatch: cur.etag });
            conn = saved; // the next save compares with what is stored now
            showSettings(conn);
          } else {
            saved = await api('POST', '/v1/connections', { name: name.value, kind: p ? p.kind : '', provider: provider.value, baseUrl: baseUrl.value, credentials: creds, settings: st });
          }
          clear(result).appendChild(h('div', { class: 'success', id: 'connection-saved' },
            h('p', { text: t('connections.saved', { name: saved.name }) }), statusBadge(saved), capabilities(saved.capabilities)));
          for (const c of credBox.querySelectorAll('[data-cred]')) c.value = '';
          announce(t('connections.saved', { name: saved.name }));
          load();
        } catch (e) {
          for (const c of credBox.querySelectorAll('input[type=password]')) c.value = '';
          if (conn && changedElsewhere(e)) { showForm(conn, t('common.changedElsewhere')); return; }
          showProblem(form, err, e);
        }
      });
    });
    formBox.appendChild(panel(conn ? t('connections.editTitle', { name: conn.name }) : t('connections.addTitle'), form));
    if (notice) { showProblem(form, err, { problem: { detail: notice } }); announce(notice); }
    name.focus();
  }

  load();
}
