// Users: import PSA members (choose a role each), the list, change a role,
// disable or enable — the users API (POST /v1/users/import, GET and PATCH
// /v1/users).
import { h, clear, input, select, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, badge, fmtTime, panel, announce } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath } from '../lib/api.js';
import { can } from '../lib/session.js';

const ROLES = ['viewer', 'operator', 'admin'];
// RESULTS are the per-member outcomes of POST /v1/users/import.
const RESULTS = ['created', 'would_create', 'refused', 'failed'];

export function usersScreen(el, ctx) {
  const listBox = h('div');
  const importBox = h('div');
  el.append(h('div', { class: 'toolbar' }, can('admin') && ctx.iid ? button(t('users.import'), () => importForm(), { class: 'primary', id: 'import-users' }) : null), importBox, listBox);

  async function load() {
    if (!can('admin')) { clear(listBox).appendChild(emptyState(t('users.adminOnly'))); return; }
    clear(listBox).appendChild(loading());
    try {
      const res = await api('GET', '/v1/users?limit=500');
      clear(listBox);
      if (!res.items.length) { listBox.appendChild(emptyState(t('users.empty'))); return; }
      listBox.appendChild(table(t('nav.users'), [
        { label: t('common.name'), cell: u => u.name || '—' },
        { label: t('users.email'), cell: u => u.email },
        { label: t('users.role'), cell: u => can('admin') ? roleSelect(u) : t('role.' + u.role) },
        { label: t('common.status'), cell: u => badge(u.disabled ? t('users.disabled') : t('users.active'), u.disabled ? 'bad' : 'ok') },
        { label: t('users.createdAt'), cell: u => fmtTime(u.createdAt) },
        { label: t('common.actions'), cell: u => can('admin') ? button(u.disabled ? t('users.enable') : t('users.disable'), e => patch(e.target, u, { disabled: !u.disabled })) : '' },
      ], res.items.map(u => Object.assign({ __key: u.id }, u)), { id: 'users-table' }));
    } catch (e) {
      clear(listBox).appendChild(e.status === 404 ? emptyState(t('users.unavailable')) : errorState(e, load));
    }
  }

  function roleSelect(u) {
    const s = select(ROLES.map(r => ({ value: r, label: t('role.' + r), selected: r === u.role })), { 'aria-label': t('users.roleOf', { name: u.email }) });
    s.addEventListener('change', () => patch(s, u, { role: s.value }));
    return s;
  }

  async function patch(ctl, u, body) {
    ctl.disabled = true;
    try { await api('PATCH', `/v1/users/${encodeURIComponent(u.id)}`, body); announce(t('common.saved')); load(); } catch (e) {
      ctl.disabled = false;
      ctl.parentElement.appendChild(h('span', { class: 'error-text', role: 'alert', text: ' ' + e.message }));
    }
  }

  async function importForm() {
    const p = panel(t('users.importTitle'), loading());
    clear(importBox).appendChild(p);
    p.focus();
    let members;
    try { members = (await api('GET', ipath(ctx.iid, '/psa/members?limit=500'))).items; } catch (e) { clear(p).appendChild(errorState(e, importForm)); return; }
    const err = formError();
    const result = h('div', { id: 'import-result' });
    const rows = members.map(m => {
      const cb = input({ type: 'checkbox', value: m.id, 'aria-label': t('users.pick', { name: m.name }), disabled: m.active === false || !m.email });
      const role = select(ROLES.map(r => ({ value: r, label: t('role.' + r), selected: r === 'viewer' })), { 'aria-label': t('users.roleOf', { name: m.name }) });
      return { m, cb, role };
    });
    const go = h('button', { type: 'submit', class: 'primary', id: 'import-go' }, t('users.importSelected'));
    const form = h('form', { novalidate: true },
      members.length ? table(t('users.members'), [
        { label: t('users.pickCol'), cell: r => r.cb },
        { label: t('common.name'), cell: r => r.m.name },
        { label: t('users.email'), cell: r => r.m.email || t('users.noEmail') },
        { label: t('users.psaRole'), cell: r => r.m.role || '—' },
        { label: t('common.status'), cell: r => r.m.active === false ? badge(t('users.inactive'), 'bad') : badge(t('users.active'), 'ok') },
        { label: t('users.role'), cell: r => r.role },
      ], rows, { id: 'members-table' }) : emptyState(t('users.noMembers')),
      err, result, h('div', { class: 'buttons' }, go));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      const picked = rows.filter(r => r.cb.checked).map(r => ({ memberId: r.m.id, role: r.role.value }));
      if (!picked.length) { showProblem(form, err, { problem: { detail: t('users.pickSome') } }); return; }
      await busy(go, async () => {
        try {
          const res = await api('POST', '/v1/users/import', { integrationId: ctx.iid, members: picked });
          clear(result).appendChild(table(t('users.results'), [
            { label: t('users.member'), cell: i => i.email || i.memberId },
            { label: t('common.status'), cell: i => badge(t('users.result.' + (RESULTS.includes(i.status) ? i.status : 'failed')), i.status === 'created' || i.status === 'would_create' ? 'ok' : 'bad') },
            { label: t('imports.reason'), cell: i => i.reason || '' },
          ], res.items || [], { id: 'import-results' }));
          load();
        } catch (e) { showProblem(form, err, e); }
      });
    });
    clear(p).append(h('h3', { text: t('users.importTitle') }), form);
  }

  load();
}
