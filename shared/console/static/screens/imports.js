// Imports: start an organization or asset import with a dry-run preview
// first, watch it live (counts, devices/s, ETA), see failed and review
// items with their reasons, retry the failed ones and resolve a review item
// by choosing one of the organization's candidate accounts.
import { h, clear, field, input, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, badge, fmtTime, panel, announce } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath, qs } from '../lib/api.js';
import { can } from '../lib/session.js';

const FINAL = ['succeeded', 'partial', 'failed'];
const COUNTS = ['created', 'linked', 'updated', 'unchanged', 'skipped', 'failed', 'review'];

function done(c) { return COUNTS.reduce((n, k) => n + (c[k] || 0), 0); }

function statusBadge(st) { return badge(t('imports.status.' + st), st === 'succeeded' ? 'ok' : st === 'failed' ? 'bad' : st === 'partial' ? 'warn' : ''); }

export function importsScreen(el, ctx) {
  const iid = ctx.iid;
  let timer = null;
  const startBox = h('div');
  const jobBox = h('div', { id: 'job' });
  const listBox = h('div');
  el.append(startBox, jobBox, h('h2', { text: t('imports.recent') }), listBox);

  if (can('operator')) startForm();

  function startForm() {
    const err = formError();
    const kindOrgs = input({ type: 'radio', name: 'kind', value: 'organizations', id: 'kind-organizations', checked: true });
    const kindAssets = input({ type: 'radio', name: 'kind', value: 'assets', id: 'kind-assets' });
    const createMissing = input({ type: 'checkbox', id: 'create-missing', checked: true });
    const orgIds = input({ name: 'organizationIds', placeholder: t('imports.allOrgs') });
    const preview = h('button', { type: 'submit', class: 'primary', id: 'dry-run' }, t('imports.preview'));
    const form = h('form', { class: 'card', novalidate: true, id: 'import-form' },
      h('fieldset', {}, h('legend', { text: t('imports.kind') }),
        h('div', { class: 'radio' }, kindOrgs, h('label', { for: kindOrgs.id, text: t('imports.kind.organizations') })),
        h('div', { class: 'radio' }, kindAssets, h('label', { for: kindAssets.id, text: t('imports.kind.assets') }))),
      field(t('imports.createMissing'), createMissing, { inline: true, name: 'createMissingAccounts' }),
      field(t('imports.orgIds'), orgIds, { name: 'organizationIds', hint: t('imports.orgIdsHint') }),
      err, h('div', { class: 'buttons' }, preview));
    const body = dry => {
      const ids = orgIds.value.split(/[\s,]+/).filter(Boolean);
      return { kind: kindAssets.checked ? 'assets' : 'organizations', dryRun: dry, createMissingAccounts: createMissing.checked, organizationIds: ids.length ? ids : undefined };
    };
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      await busy(preview, async () => {
        try {
          const req = body(true);
          const j = await api('POST', ipath(iid, '/imports'), req);
          watch(j.id, Object.assign({}, req, { dryRun: false }));
        } catch (e) { showProblem(form, err, e); }
      });
    });
    startBox.appendChild(panel(t('imports.startTitle'), form));
  }

  async function loadList() {
    clear(listBox).appendChild(loading());
    try {
      const res = await api('GET', ipath(iid, '/imports?limit=20'));
      clear(listBox);
      if (!res.items.length) { listBox.appendChild(emptyState(can('operator') ? t('imports.emptyOperator') : t('imports.empty'))); return; }
      listBox.appendChild(table(t('imports.recent'), [
        { label: t('imports.job'), cell: j => h('a', { href: '#/imports/' + encodeURIComponent(j.id), text: j.id }) },
        { label: t('imports.kind'), cell: j => t('imports.kind.' + j.kind) + (j.dryRun ? ' · ' + t('imports.dryRun') : '') },
        { label: t('common.status'), cell: j => statusBadge(j.status) },
        { label: t('imports.progress'), cell: j => `${done(j.counts)} / ${j.counts.total}` },
        { label: t('imports.createdAt'), cell: j => fmtTime(j.createdAt) },
      ], res.items.map(j => Object.assign({ __key: j.id }, j)), { id: 'imports-table' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, loadList)); }
  }

  // watch polls a job once a second until it is final, with the rate over
  // the last ten seconds and the time left at that rate.
  function watch(id, realRun) {
    if (timer) clearTimeout(timer);
    const samples = [];
    const view = h('div', { class: 'job-view' });
    const title = t('imports.jobTitle', { id });
    clear(jobBox).appendChild(panel(title, view));
    const tick = async () => {
      let j;
      try { j = await api('GET', ipath(iid, `/imports/${encodeURIComponent(id)}`)); } catch (e) {
        clear(view).appendChild(errorState(e, tick)); return;
      }
      const now = Date.now();
      samples.push({ at: now, done: done(j.counts) });
      while (samples.length > 2 && now - samples[0].at > 10000) samples.shift();
      const first = samples[0];
      const rate = samples.length > 1 && now > first.at ? (done(j.counts) - first.done) / ((now - first.at) / 1000) : 0;
      render(view, j, rate, realRun);
      if (!FINAL.includes(j.status)) timer = setTimeout(tick, 1000);
      else { announce(t('imports.finished', { status: t('imports.status.' + j.status) })); loadList(); }
    };
    tick();
  }

  function render(view, j, rate, realRun) {
    const d = done(j.counts);
    const total = j.counts.total;
    const left = Math.max(total - d, 0);
    const eta = rate > 0 && left > 0 ? Math.ceil(left / rate) : null;
    const final = FINAL.includes(j.status);
    clear(view).append(
      h('p', {}, statusBadge(j.status), ' ', t('imports.kind.' + j.kind), j.dryRun ? ' · ' + t('imports.dryRun') : ''),
      h('progress', { max: String(Math.max(total, 1)), value: String(d), 'aria-label': t('imports.progress') }),
      h('p', { id: 'job-progress', 'data-status': j.status, text: t('imports.progressLine', { done: d, total }) }),
      h('p', { id: 'job-rate', class: 'muted', text: final ? '' : t('imports.rate', { rate: rate.toFixed(1), eta: eta === null ? '—' : fmtDuration(eta) }) }),
      h('dl', { class: 'counts', id: 'job-counts' }, COUNTS.map(k => [h('dt', { text: t('imports.count.' + k) }), h('dd', { 'data-count': k, text: String(j.counts[k] || 0) })])));
    if (j.dryRun && final) {
      const prev = j.preview || [];
      view.appendChild(h('h4', { text: t('imports.previewTitle') }));
      view.appendChild(prev.length ? table(t('imports.previewTitle'), [
        { label: t('imports.key'), cell: p => p.key },
        { label: t('common.name'), cell: p => p.name || '—' },
        { label: t('imports.action'), cell: p => badge(t('imports.action.' + p.action), p.action) },
        { label: t('imports.target'), cell: p => p.targetId || '—' },
        { label: t('imports.reason'), cell: p => p.reason || '' },
      ], prev, { id: 'preview-table' }) : emptyState(t('imports.previewEmpty')));
      if (realRun && can('operator')) {
        view.appendChild(h('div', { class: 'buttons' }, button(t('imports.runNow'), async e => {
          await busy(e.target, async () => {
            try { const r = await api('POST', ipath(iid, '/imports'), realRun); watch(r.id); } catch (err) { alert(err.message); }
          });
        }, { class: 'primary', id: 'run-import' })));
      }
    }
    if (final && (j.counts.failed || j.counts.review) && !j.dryRun) items(view, j);
  }

  async function items(view, j) {
    const box = h('div', { id: 'job-items' }, loading());
    view.appendChild(box);
    try {
      const [failed, review] = await Promise.all([
        api('GET', ipath(iid, `/imports/${encodeURIComponent(j.id)}/items?status=failed&limit=100`)),
        api('GET', ipath(iid, `/imports/${encodeURIComponent(j.id)}/items?status=review&limit=100`)),
      ]);
      clear(box);
      if (failed.items.length) {
        box.append(h('h4', { text: t('imports.failedItems') }),
          table(t('imports.failedItems'), [
            { label: t('imports.key'), cell: i => i.key },
            { label: t('imports.reason'), cell: i => i.reason },
          ], failed.items, { id: 'failed-items' }),
          can('operator') ? button(t('imports.retryFailed'), async e => {
            await busy(e.target, async () => {
              try { await api('POST', ipath(iid, `/imports/${encodeURIComponent(j.id)}/retry`)); watch(j.id); } catch (err) { box.appendChild(errorState(err)); }
            });
          }, { id: 'retry-failed' }) : null);
      }
      if (review.items.length) {
        box.append(h('h4', { text: t('imports.reviewItems') }),
          table(t('imports.reviewItems'), [
            { label: t('imports.key'), cell: i => i.key },
            { label: t('imports.reason'), cell: i => i.reason },
            { label: t('common.actions'), cell: i => can('operator') && (i.organizationId || j.kind === 'organizations')
              ? button(t('imports.resolve'), () => resolve(box, j, i), { 'aria-label': t('imports.resolveNamed', { key: i.key }) }) : '' },
          ], review.items.map(i => Object.assign({ __key: i.key }, i)), { id: 'review-items' }));
      }
    } catch (e) { clear(box).appendChild(errorState(e)); }
  }

  // resolve shows the organization's candidates (auto-match) and resolves
  // the item with the chosen one.
  async function resolve(box, j, item) {
    const org = item.organizationId || item.key;
    const p = panel(t('imports.resolveTitle', { org }), loading());
    box.appendChild(p);
    p.focus();
    let res;
    try { res = await api('POST', ipath(iid, `/organizations/${encodeURIComponent(org)}/match`)); } catch (e) { clear(p).appendChild(errorState(e)); return; }
    const err = formError();
    const name = 'resolve-' + item.key;
    const radios = (res.candidates || []).map((c, i) => {
      const r = input({ type: 'radio', name, value: c.accountId, id: `${name}-${i}`, checked: i === 0 });
      return h('div', { class: 'radio-cand' }, r, h('label', { for: r.id, text: `${c.name} (#${c.accountId}) · ${Math.round(c.score * 100)}% · ${(c.reasons || []).join('; ')}` }));
    });
    const go = h('button', { type: 'submit', class: 'primary', id: 'resolve-go' }, t('imports.resolveWith'));
    const form = h('form', { novalidate: true },
      radios.length ? h('fieldset', {}, h('legend', { text: t('accounts.candidates') }), radios) : emptyState(t('imports.noCandidates')),
      err, radios.length ? go : null);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      const sel = form.querySelector(`input[name="${name}"]:checked`);
      await busy(go, async () => {
        try {
          await api('POST', ipath(iid, `/imports/${encodeURIComponent(j.id)}/items/${encodeURIComponent(item.key)}/resolve`), { accountId: sel.value });
          announce(t('imports.resolved'));
          watch(j.id);
        } catch (e) { showProblem(form, err, e); }
      });
    });
    clear(p).append(h('h3', { text: t('imports.resolveTitle', { org }) }), form);
  }

  if (ctx.args[0]) watch(ctx.args[0]);
  loadList();
  return () => { if (timer) clearTimeout(timer); };
}

function fmtDuration(s) {
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
