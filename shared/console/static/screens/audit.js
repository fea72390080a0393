// Audit log: who changed what, with the state before and after.
import { h, clear, button, loading, errorState, emptyState, table, fmtTime } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, qs } from '../lib/api.js';

function state(v) {
  if (!v) return h('span', { class: 'muted', text: '—' });
  return h('pre', { class: 'json', text: JSON.stringify(v, null, 1) });
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
        { label: t('audit.target'), cell: e => e.target },
        { label: t('audit.before'), cell: e => state(e.before) },
        { label: t('audit.after'), cell: e => state(e.after) },
      ], rows, { id: 'audit-table' }));
      if (res.nextCursor) more.appendChild(button(t('common.loadMore'), () => load(res.nextCursor), { id: 'audit-more' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, () => load())); }
  }
  load();
}
