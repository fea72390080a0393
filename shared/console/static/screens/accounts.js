// Accounts: the RMM organizations with their PSA mapping, "+ Add mapping"
// (auto-match, then "Map this company", "Select another company", "Manual
// map" or "Create new account", then each site to a location), edit and
// delete a mapping, and "Create in RMM" for a PSA account.
import { h, clear, field, input, select, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, badge, panel, announce } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath, qs } from '../lib/api.js';
import { can } from '../lib/session.js';

export function accountsScreen(el, ctx) {
  const iid = ctx.iid;
  const filter = select(['all', 'mapped', 'unmapped', 'review'].map(v => ({ value: v, label: t('accounts.filter.' + v) })), { id: 'mapping-filter' });
  const flowBox = h('div', { id: 'mapping-flow' });
  const listBox = h('div');
  const more = h('div');
  const psaBox = h('div');
  el.append(
    h('div', { class: 'toolbar' }, field(t('accounts.show'), filter, { inline: true })),
    flowBox, listBox, more,
    h('h2', { text: t('accounts.psaAccounts') }), psaBox);
  filter.addEventListener('change', () => load());
  let orgs = [];

  async function load(cursor) {
    if (!cursor) { orgs = []; clear(listBox).appendChild(loading()); }
    clear(more);
    try {
      const f = filter.value === 'all' ? '' : filter.value;
      const res = await api('GET', ipath(iid, '/organizations' + qs({ limit: 50, cursor, mapping: f })));
      orgs = orgs.concat(res.items);
      clear(listBox);
      if (!orgs.length) {
        listBox.appendChild(emptyState(t('accounts.empty.' + (filter.value))));
      } else {
        listBox.appendChild(orgTable(orgs));
      }
      if (res.nextCursor) more.appendChild(button(t('common.loadMore'), () => load(res.nextCursor), { id: 'orgs-more' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, () => load())); }
  }

  function orgTable(list) {
    return table(t('accounts.orgs'), [
      { label: t('accounts.organization'), key: 'org', cell: o => h('span', {}, o.name, h('span', { class: 'muted', text: ` #${o.id}` })) },
      { label: t('accounts.sites'), key: 'sites', cell: o => String(o.sites.length) },
      { label: t('accounts.psaMapping'), key: 'mapping', cell: o => o.mapping
        ? h('span', {}, o.mapping.accountName, ' ', badge(t('accounts.mode.' + o.mapping.mode), 'ok'))
        : badge(t('accounts.notMapped'), 'warn') },
      { label: t('common.actions'), key: 'actions', cell: o => h('span', { class: 'actions' }, !can('operator') ? null : (o.mapping
        ? [button(t('common.edit'), () => editMapping(o), { 'aria-label': t('accounts.editNamed', { name: o.name }) }),
          button(t('common.delete'), e => unmap(e.target, o), { class: 'danger', 'aria-label': t('accounts.unmapNamed', { name: o.name }) })]
        : button(t('accounts.addMapping'), () => addMapping(o), { class: 'primary', 'aria-label': t('accounts.addMappingNamed', { name: o.name }) }))) },
    ], list.map(o => Object.assign({ __key: o.id }, o)), { id: 'orgs-table' });
  }

  async function unmap(btn, o) {
    if (!confirm(t('accounts.confirmUnmap', { name: o.name, account: o.mapping.accountName }))) return;
    await busy(btn, async () => {
      try { await api('DELETE', ipath(iid, `/mappings/${encodeURIComponent(o.id)}`)); announce(t('accounts.unmapped', { name: o.name })); } catch (e) { alert(e.message); }
    });
    load();
  }

  function show(title, ...content) {
    const p = panel(title, content, h('div', { class: 'buttons' }, button(t('common.close'), () => clear(flowBox), { class: 'close-flow' })));
    clear(flowBox).appendChild(p);
    p.focus();
    return p;
  }

  // addMapping runs the match and shows its outcome.
  async function addMapping(o) {
    show(t('accounts.addMappingNamed', { name: o.name }), loading());
    let res;
    try {
      res = await api('POST', ipath(iid, `/organizations/${encodeURIComponent(o.id)}/match`));
    } catch (e) { show(t('accounts.addMappingNamed', { name: o.name }), errorState(e, () => addMapping(o))); return; }
    const cands = res.candidates || [];
    const candRow = c => h('li', { class: 'candidate' },
      h('strong', { text: c.name }), ' ', h('span', { class: 'muted', text: `#${c.accountId}` }), ' ',
      badge(t('accounts.score', { score: Math.round(c.score * 100) }), c.score >= 0.9 ? 'ok' : 'warn'),
      c.status ? ' ' + t('accounts.statusType', { status: c.status, type: c.type || '—' }) : '',
      h('ul', { class: 'reasons' }, (c.reasons || []).map(r => h('li', { text: r }))));
    const manual = button(t('accounts.manualMap'), () => manualMap(o), { id: 'manual-map' });
    const create = button(t('accounts.createNew'), () => createAccount(o), { id: 'create-account' });
    if (res.outcome === 'match_found') {
      const c = cands[0];
      show(t('accounts.addMappingNamed', { name: o.name }),
        h('p', { class: 'outcome', id: 'match-outcome', 'data-outcome': res.outcome, text: t('accounts.outcome.match_found') }),
        h('ul', { class: 'candidates' }, candRow(c)),
        h('div', { class: 'buttons' },
          button(t('accounts.mapThis'), () => linkTo(o, { id: c.accountId, name: c.name }), { class: 'primary', id: 'map-this' }),
          button(t('accounts.selectAnother'), () => manualMap(o), { id: 'select-another' })));
    } else if (res.outcome === 'multiple_matches') {
      const name = 'cand-' + o.id;
      const radios = cands.map((c, i) => {
        const r = input({ type: 'radio', name, value: c.accountId, id: `${name}-${i}`, checked: i === 0 });
        return h('div', { class: 'radio-cand' }, r, h('label', { for: r.id }, candRow(c)));
      });
      const choose = button(t('accounts.mapSelected'), () => {
        const sel = flowBox.querySelector(`input[name="${name}"]:checked`);
        const c = cands.find(x => x.accountId === (sel && sel.value));
        if (c) linkTo(o, { id: c.accountId, name: c.name });
      }, { class: 'primary', id: 'map-selected' });
      show(t('accounts.addMappingNamed', { name: o.name }),
        h('p', { class: 'outcome', id: 'match-outcome', 'data-outcome': res.outcome, text: t('accounts.outcome.multiple_matches') }),
        h('fieldset', { class: 'candidates' }, h('legend', { text: t('accounts.candidates') }), radios),
        h('div', { class: 'buttons' }, choose, manual, create));
    } else {
      show(t('accounts.addMappingNamed', { name: o.name }),
        h('p', { class: 'outcome', id: 'match-outcome', 'data-outcome': res.outcome, text: t('accounts.outcome.no_match') }),
        cands.length ? h('ul', { class: 'candidates' }, cands.map(candRow)) : null,
        h('div', { class: 'buttons' }, manual, create));
    }
  }

  async function pick(path) {
    try { return (await api('GET', ipath(iid, path))).items || []; } catch (_) { return []; }
  }

  // manualMap searches the PSA's accounts with status and type filters.
  async function manualMap(o) {
    const [statuses, types] = await Promise.all([pick('/psa/account-statuses?limit=500'), pick('/psa/account-types?limit=500')]);
    const search = input({ type: 'search', name: 'search', value: o.name });
    const status = select([{ value: '', label: t('accounts.anyStatus') }].concat(statuses.map(s => ({ value: s.id, label: s.name }))), { id: 'search-status', name: 'status' });
    const type = select([{ value: '', label: t('accounts.anyType') }].concat(types.map(s => ({ value: s.id, label: s.name }))), { id: 'search-type', name: 'type' });
    const err = formError();
    const results = h('div', { id: 'search-results' });
    const moreBox = h('div');
    const go = h('button', { type: 'submit', class: 'primary', id: 'search-go' }, t('accounts.search'));
    const form = h('form', { class: 'search-form', role: 'search', novalidate: true },
      field(t('accounts.searchName'), search, { name: 'search' }),
      field(t('common.status'), status, { name: 'status' }),
      field(t('common.type'), type, { name: 'type' }),
      go, err);
    let rows = [];
    const run = async (cursor) => {
      clearProblem(form, err);
      if (!cursor) { rows = []; clear(results).appendChild(loading()); }
      clear(moreBox);
      try {
        const res = await api('GET', ipath(iid, '/psa/accounts' + qs({ search: search.value.trim(), status: status.value, type: type.value, limit: 10, cursor })));
        rows = rows.concat(res.items);
        clear(results);
        if (!rows.length) results.appendChild(emptyState(t('accounts.noResults')));
        else results.appendChild(table(t('accounts.psaAccounts'), [
          { label: t('common.name'), cell: a => a.name },
          { label: t('common.status'), cell: a => a.status || '—' },
          { label: t('common.type'), cell: a => a.type || '—' },
          { label: t('common.actions'), cell: a => button(t('accounts.select'), () => linkTo(o, { id: a.id, name: a.name }), { 'aria-label': t('accounts.selectNamed', { name: a.name }) }) },
        ], rows.map(a => Object.assign({ __key: a.id }, a)), { id: 'search-table' }));
        if (res.nextCursor) moreBox.appendChild(button(t('common.loadMore'), () => run(res.nextCursor), { id: 'search-more' }));
      } catch (e) { clear(results); showProblem(form, err, e); }
    };
    form.addEventListener('submit', ev => { ev.preventDefault(); run(); });
    show(t('accounts.manualMapNamed', { name: o.name }), form, results, moreBox,
      h('div', { class: 'buttons' }, button(t('accounts.createNew'), () => createAccount(o), { id: 'create-account' })));
    search.focus();
    run();
  }

  // buildSites maps each RMM site to a location of the chosen account (or
  // "create", or by name when left alone), then saves the mapping.
  async function buildSites(o, acct, current) {
    show(t('accounts.sitesTitle', { name: o.name, account: acct ? acct.name : t('accounts.newAccount') }), loading());
    const locs = acct && acct.id ? await pick(`/psa/accounts/${encodeURIComponent(acct.id)}/locations?limit=500`) : [];
    const sels = o.sites.map(s => {
      const cur = current && current.sites ? current.sites[s.id] : '';
      const opts = [{ value: '', label: t('accounts.siteByName') }, { value: 'create', label: t('accounts.siteCreate'), selected: cur === 'create' }]
        .concat(locs.map(l => ({ value: l.id, label: l.name, selected: cur === l.id })));
      const sel = select(opts, { 'data-site': s.id });
      return field(s.name, sel, { name: 'sites.' + s.id });
    });
    return { sels, locs };
  }

  async function saveStep(o, body, title) {
    const err = formError();
    const save = h('button', { type: 'submit', class: 'primary', id: 'save-mapping' }, t('accounts.saveMapping'));
    const form = h('form', { novalidate: true, id: 'mapping-form' },
      body.sels.length ? h('fieldset', {}, h('legend', { text: t('accounts.siteLocations') }), body.sels) : h('p', { class: 'muted', text: t('accounts.noSites') }),
      body.extra || null,
      err, h('div', { class: 'buttons' }, save));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      const sites = {};
      for (const s of form.querySelectorAll('[data-site]')) if (s.value) sites[s.dataset.site] = s.value;
      await busy(save, async () => {
        try {
          const m = await api('PUT', ipath(iid, `/mappings/${encodeURIComponent(o.id)}`), Object.assign(body.request(), { sites }));
          show(t('accounts.savedTitle'), h('p', { class: 'success', id: 'mapping-saved', text: t('accounts.saved', { name: o.name, account: m.accountName, mode: t('accounts.mode.' + m.mode) }) }));
          announce(t('accounts.saved', { name: o.name, account: m.accountName, mode: t('accounts.mode.' + m.mode) }));
          load();
        } catch (e) { showProblem(form, err, e); }
      });
    });
    show(title, form);
    const first = form.querySelector('select, input');
    if (first) first.focus();
  }

  async function linkTo(o, acct, current) {
    const step = await buildSites(o, acct, current);
    saveStep(o, { sels: step.sels, request: () => ({ accountId: acct.id }) }, t('accounts.sitesTitle', { name: o.name, account: acct.name }));
  }

  async function createAccount(o) {
    const [statuses, types] = await Promise.all([pick('/psa/account-statuses?limit=500'), pick('/psa/account-types?limit=500')]);
    const step = await buildSites(o, null);
    for (const s of step.sels) {
      const sel = s.querySelector('select');
      sel.value = 'create';
    }
    const name = input({ value: o.name, name: 'createAccount.name' });
    const status = select([{ value: '', label: t('integrations.psaDefault') }].concat(statuses.map(s => ({ value: s.name, label: s.name }))), { name: 'createAccount.status' });
    const type = select([{ value: '', label: t('integrations.psaDefault') }].concat(types.map(s => ({ value: s.name, label: s.name }))), { name: 'createAccount.type' });
    const extra = h('fieldset', {}, h('legend', { text: t('accounts.newAccount') }),
      field(t('common.name'), name, { name: 'createAccount.name', required: true }),
      field(t('common.status'), status, { name: 'createAccount.status' }),
      field(t('common.type'), type, { name: 'createAccount.type' }));
    saveStep(o, { sels: step.sels, extra, request: () => ({ createAccount: { name: name.value.trim() || undefined, status: status.value || undefined, type: type.value || undefined } }) },
      t('accounts.createTitle', { name: o.name }));
  }

  async function editMapping(o) {
    const m = o.mapping;
    const step = await buildSites(o, { id: m.accountId, name: m.accountName }, m);
    saveStep(o, { sels: step.sels, request: () => ({ accountId: m.accountId }),
      extra: h('p', {}, t('accounts.currentAccount', { account: m.accountName }), ' ', button(t('accounts.selectAnother'), () => manualMap(o), { id: 'change-account' })) },
    t('accounts.editNamed', { name: o.name }));
  }

  // PSA accounts, for "Create in RMM".
  function psaAccounts() {
    const search = input({ type: 'search', name: 'search' });
    const err = formError();
    const results = h('div', { id: 'psa-results' });
    const form = h('form', { class: 'search-form', role: 'search', novalidate: true },
      field(t('accounts.searchName'), search, { name: 'search' }),
      h('button', { type: 'submit', id: 'psa-search' }, t('accounts.search')), err);
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      clear(results).appendChild(loading());
      try {
        const res = await api('GET', ipath(iid, '/psa/accounts' + qs({ search: search.value.trim(), limit: 25 })));
        clear(results);
        if (!res.items.length) { results.appendChild(emptyState(t('accounts.noResults'))); return; }
        results.appendChild(table(t('accounts.psaAccounts'), [
          { label: t('common.name'), cell: a => a.name },
          { label: t('common.status'), cell: a => a.status || '—' },
          { label: t('common.actions'), cell: a => can('operator') ? button(t('accounts.createInRmm'), e => provision(e.target, a), { 'aria-label': t('accounts.createInRmmNamed', { name: a.name }) }) : '' },
        ], res.items.map(a => Object.assign({ __key: a.id }, a)), { id: 'psa-table' }));
      } catch (e) { clear(results); showProblem(form, err, e); }
    });
    psaBox.append(h('p', { class: 'muted', text: t('accounts.psaHint') }), form, results);
  }

  async function provision(btn, a) {
    await busy(btn, async () => {
      try {
        const r = await api('POST', ipath(iid, `/psa/accounts/${encodeURIComponent(a.id)}/provision-rmm`));
        btn.replaceWith(h('span', { class: 'success', text: t('accounts.provisioned', { org: r.organizationId }) }));
        load();
      } catch (e) { btn.parentElement.appendChild(h('span', { class: 'reason error-text', role: 'alert', text: ' ' + e.message })); }
    });
  }

  psaAccounts();
  load();
}
