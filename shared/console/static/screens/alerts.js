// Alerts: open, closed, unroutable and filtered alert series with their tickets and
// reasons.
import { h, clear, button, loading, errorState, emptyState, table, badge, fmtTime } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath, qs } from '../lib/api.js';

const STATES = ['', 'open', 'closed', 'unroutable', 'filtered'];

export function alertsScreen(el, ctx) {
  const iid = ctx.iid;
  let state = '';
  const tabs = h('div', { class: 'tabs', role: 'group', 'aria-label': t('alerts.state') });
  const listBox = h('div');
  const more = h('div');
  el.append(tabs, h('div', { class: 'toolbar' }, button(t('common.refresh'), () => load(), { id: 'alerts-refresh' })), listBox, more);
  const drawTabs = () => {
    clear(tabs);
    for (const s of STATES) tabs.appendChild(button(t('alerts.tab.' + (s || 'all')), () => { state = s; drawTabs(); load(); }, { 'aria-pressed': String(s === state), id: 'alerts-tab-' + (s || 'all') }));
  };
  let rows = [];
  async function load(cursor) {
    if (!cursor) { rows = []; clear(listBox).appendChild(loading()); }
    clear(more);
    try {
      const res = await api('GET', ipath(iid, '/alerts' + qs({ state, limit: 50, cursor })));
      rows = rows.concat(res.items);
      clear(listBox);
      if (!rows.length) { listBox.appendChild(emptyState(t('alerts.empty'))); return; }
      listBox.appendChild(table(t('nav.alerts'), [
        { label: t('alerts.series'), cell: a => h('code', { text: a.seriesId }) },
        { label: t('alerts.device'), cell: a => h('a', { href: `#/assets/${encodeURIComponent(a.deviceId)}`, text: a.deviceId }) },
        { label: t('alerts.severity'), cell: a => t('severity.' + a.severity) },
        { label: t('common.status'), cell: a => badge(t('alerts.tab.' + a.state), a.state === 'open' ? 'warn' : a.state === 'closed' ? 'ok' : 'bad') },
        { label: t('alerts.ticket'), cell: a => a.ticketId ? '#' + a.ticketId : '—' },
        { label: t('alerts.occurrences'), cell: a => String(a.occurrences) },
        { label: t('alerts.lastSeen'), cell: a => fmtTime(a.lastSeenAt) },
        { label: t('imports.reason'), cell: a => a.reason || (a.filter ? t('alerts.filteredBy', { rule: a.filter.rule, setting: a.filter.setting, value: a.filter.value }) + (a.summaryTicketId ? ' (#' + a.summaryTicketId + ')' : '') : '') },
      ], rows.map(a => Object.assign({ __key: a.seriesId }, a)), { id: 'alerts-table' }));
      if (res.nextCursor) more.appendChild(button(t('common.loadMore'), () => load(res.nextCursor)));
    } catch (e) { clear(listBox).appendChild(errorState(e, () => load())); }
  }
  drawTabs();
  load();
}
