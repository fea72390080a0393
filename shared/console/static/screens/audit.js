// Audit log: who changed what, with the state before and after.
import { h, clear, button, loading, errorState, emptyState, table, fmtTime } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, qs } from '../lib/api.js';

// state shows a mapping as a short list; the fields that differ from the
// other side of the change are marked.
function state(v, other) {
  if (!v) return h('span', { class: 'muted', text: '—' });
  const sites = m => Object.entries(m.sites || {}).map(([s, l]) => `${s} → ${l}`).join(', ') || '—';
  const rows = [
    ['audit.account', `${v.accountName || ''} (#${v.accountId || '—'})`, o => `${o.accountName || ''} (#${o.accountId || '—'})`],
    ['audit.mode', t('accounts.mode.' + v.mode), o => t('accounts.mode.' + o.mode)],
    ['audit.sites', sites(v), sites],
  ];
  return h('dl', { class: 'change' }, rows.map(([k, text, of]) => [
    h('dt', { text: t(k) }),
    h('dd', { class: other && of(other) !== text ? 'changed' : null, text }),
  ]));
}

export function auditScreen(el) {
  const listBox = h('div');
  const more = h('div');
  el.append(listBox, more);
  let rows = [];
  async function load(cursor) {
    if (!cursor) { rows = []; clear(listBox).appendChild(loading()); }
    clear(more);
    try {
      const res = await api('GET', '/v1/audit' + qs({ limit: 50, cursor }));
      rows = rows.concat(res.items);
      clear(listBox);
      if (!rows.length) { listBox.appendChild(emptyState(t('audit.empty'))); return; }
      listBox.appendChild(table(t('nav.audit'), [
        { label: t('audit.at'), cell: e => fmtTime(e.at) },
        { label: t('audit.actor'), cell: e => e.actor },
        { label: t('audit.action'), cell: e => h('code', { text: e.action }) },
        { label: t('audit.target'), cell: e => h('code', { text: e.target }) },
        { label: t('audit.before'), cell: e => state(e.before, e.after) },
        { label: t('audit.after'), cell: e => state(e.after, e.before) },
      ], rows, { id: 'audit-table' }));
      if (res.nextCursor) more.appendChild(button(t('common.loadMore'), () => load(res.nextCursor), { id: 'audit-more' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, () => load())); }
  }
  load();
}
