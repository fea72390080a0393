// Assets: the synced assets, and one asset's detail (serial, last user,
// last check-in, storage per volume, the PSA link) with the Sync button.
import { h, clear, field, input, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, fmtTime, fmtBytes, panel, announce } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath, qs } from '../lib/api.js';
import { can } from '../lib/session.js';

export function assetsScreen(el, ctx) {
  const iid = ctx.iid;
  if (ctx.args[0]) { detail(el, iid, ctx.args[0]); return; }
  const org = input({ name: 'organizationId', id: 'asset-org' });
  const err = formError();
  const form = h('form', { class: 'search-form', novalidate: true },
    field(t('assets.organization'), org, { name: 'organizationId', hint: t('assets.organizationHint') }),
    h('button', { type: 'submit' }, t('assets.filter')), err);
  const listBox = h('div');
  const more = h('div');
  el.append(form, listBox, more);
  let rows = [];
  async function load(cursor) {
    clearProblem(form, err);
    if (!cursor) { rows = []; clear(listBox).appendChild(loading()); }
    clear(more);
    try {
      const res = await api('GET', ipath(iid, '/assets' + qs({ organizationId: org.value.trim(), limit: 50, cursor })));
      rows = rows.concat(res.items);
      clear(listBox);
      if (!rows.length) { listBox.appendChild(emptyState(t('assets.empty'), h('a', { href: '#/imports', text: t('nav.imports') }))); return; }
      listBox.appendChild(table(t('nav.assets'), [
        { label: t('common.name'), cell: a => h('a', { href: `#/assets/${encodeURIComponent(a.deviceId)}`, text: a.name }) },
        { label: t('assets.serial'), cell: a => a.serialNumber || '—' },
        { label: t('assets.lastUser'), cell: a => a.lastLoggedInUser || '—' },
        { label: t('assets.lastCheckIn'), cell: a => fmtTime(a.lastCheckIn) },
        { label: t('assets.psaAsset'), cell: a => a.assetId ? '#' + a.assetId : '—' },
        { label: t('assets.lastSynced'), cell: a => fmtTime(a.lastSyncedAt) },
      ], rows.map(a => Object.assign({ __key: a.deviceId }, a)), { id: 'assets-table' }));
      if (res.nextCursor) more.appendChild(button(t('common.loadMore'), () => load(res.nextCursor), { id: 'assets-more' }));
    } catch (e) { clear(listBox); if (e.status === 400) showProblem(form, err, e); else listBox.appendChild(errorState(e, () => load())); }
  }
  form.addEventListener('submit', ev => { ev.preventDefault(); load(); });
  load();
}

async function detail(el, iid, deviceId) {
  const box = h('div', { id: 'asset-detail' }, loading());
  el.append(h('p', {}, h('a', { href: '#/assets', text: '← ' + t('nav.assets') })), box);
  const show = a => {
    const vols = (a.storage && a.storage.volumes) || [];
    const sync = can('operator') ? button(t('assets.sync'), async e => {
      await busy(e.target, async () => {
        try {
          const fresh = await api('POST', ipath(iid, `/assets/${encodeURIComponent(deviceId)}/sync`));
          show(fresh);
          announce(t('assets.synced', { at: fmtTime(fresh.lastSyncedAt) }));
        } catch (err) { box.appendChild(errorState(err)); }
      });
    }, { class: 'primary', id: 'sync' }) : null;
    clear(box).append(
      h('h2', { text: a.name }),
      h('div', { class: 'toolbar' }, sync),
      h('dl', { class: 'props' },
        prop(t('assets.device'), a.deviceId),
        prop(t('assets.serial'), a.serialNumber || '—'),
        prop(t('assets.os'), a.os || '—'),
        prop(t('assets.lastUser'), a.lastLoggedInUser || '—'),
        prop(t('assets.lastCheckIn'), fmtTime(a.lastCheckIn)),
        prop(t('assets.psaLink'), a.assetId ? t('assets.psaLinkText', { asset: a.assetId, account: a.accountId || '—', location: a.locationId || '—' }) : t('assets.notLinked')),
        prop(t('assets.lastSynced'), fmtTime(a.lastSyncedAt), 'last-synced')),
      h('h3', { text: t('assets.storage') }),
      a.storage ? h('p', { text: t('assets.storageTotal', { free: fmtBytes(a.storage.freeBytes), total: fmtBytes(a.storage.totalBytes) }) }) : null,
      vols.length ? table(t('assets.storage'), [
        { label: t('assets.volume'), cell: v => v.name },
        { label: t('assets.capacity'), cell: v => fmtBytes(v.capacityBytes) },
        { label: t('assets.free'), cell: v => fmtBytes(v.freeBytes) },
        { label: t('assets.used'), cell: v => h('meter', { min: '0', max: String(v.capacityBytes || 1), value: String((v.capacityBytes || 0) - (v.freeBytes || 0)), 'aria-label': t('assets.usedOf', { name: v.name }) }) },
      ], vols, { id: 'volumes' }) : emptyState(t('assets.noVolumes')));
  };
  try { show(await api('GET', ipath(iid, `/assets/${encodeURIComponent(deviceId)}`))); } catch (e) {
    clear(box).appendChild(errorState(e, () => detail(clear(el), iid, deviceId)));
  }
}

function prop(k, v, id) { return [h('dt', { text: k }), h('dd', { id: id || null, text: v })]; }
