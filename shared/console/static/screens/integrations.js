// Integrations: create (an RMM and a PSA connection), settings (ticket
// defaults and the priority map from the PSA's picklists), the webhook URL
// and the one-time display of its secret, with rotation.
import { h, clear, field, input, select, button, formError, showProblem, clearProblem, busy, loading, errorState, emptyState, table, panel, announce, nextId } from '../lib/dom.js';
import { t } from '../lib/i18n.js';
import { api, ipath, changedElsewhere } from '../lib/api.js';
import { can } from '../lib/session.js';

const SEVERITIES = ['critical', 'major', 'moderate', 'minor', 'none'];

// setPath sets obj's value at a dotted path, creating the objects on the
// way; undefined removes the key.
function setPath(obj, path, v) {
  const keys = path.split('.');
  const last = keys.pop();
  let o = obj;
  for (const k of keys) {
    if (!o[k] || typeof o[k] !== 'object') o[k] = {};
    o = o[k];
  }
  if (v === undefined) delete o[last]; else o[last] = v;
}

function webhookURL(ig) { return location.origin + ig.webhook.url; }

// secretPanel shows a webhook secret once, with the URL to configure.
function secretPanel(ig, secret) {
  const out = h('output', { id: 'webhook-secret', class: 'secret', text: secret });
  return h('div', { class: 'success one-time', role: 'status' },
    h('p', {}, h('strong', { text: t('integrations.secretOnce') })),
    h('dl', {},
      h('dt', { text: t('integrations.webhookUrl') }), h('dd', {}, h('code', { text: webhookURL(ig) })),
      h('dt', { text: t('integrations.secret') }), h('dd', {}, out, ' ',
        button(t('common.copy'), async () => { try { await navigator.clipboard.writeText(secret); announce(t('common.copied')); } catch (_) { announce(t('common.copyFailed')); } }))),
    h('p', { class: 'muted', text: t('integrations.secretHowTo') }));
}

export function integrationsScreen(el, ctx) {
  const listBox = h('div');
  const formBox = h('div');
  el.append(h('div', { class: 'toolbar' }, can('admin') ? button(t('integrations.add'), () => createForm(), { class: 'primary', id: 'add-integration' }) : null), formBox, listBox);
  let conns = [];

  async function load() {
    clear(listBox).appendChild(loading());
    try {
      const [igs, cs] = await Promise.all([api('GET', '/v1/integrations?limit=500'), api('GET', '/v1/connections?limit=500')]);
      conns = cs.items;
      const cname = id => (conns.find(c => c.id === id) || { name: id }).name;
      clear(listBox);
      if (!igs.items.length) {
        listBox.appendChild(emptyState(conns.length ? t('integrations.empty') : t('integrations.emptyNoConnections'),
          conns.length ? null : h('a', { href: '#/connections', text: t('nav.connections') })));
        return;
      }
      listBox.appendChild(table(t('nav.integrations'), [
        { label: t('common.name'), cell: i => i.name },
        { label: 'RMM', cell: i => cname(i.rmmConnectionId) },
        { label: 'PSA', cell: i => cname(i.psaConnectionId) },
        { label: t('integrations.webhookUrl'), cell: i => h('code', { text: webhookURL(i) }) },
        { label: t('common.actions'), cell: i => h('span', { class: 'actions' },
          button(t('integrations.settings'), () => settingsForm(i), { 'aria-label': t('integrations.settingsNamed', { name: i.name }) }),
          can('admin') ? button(t('integrations.rotate'), e => rotate(e.target, i), { 'aria-label': t('integrations.rotateNamed', { name: i.name }) }) : null,
          can('admin') ? button(t('common.delete'), e => remove(e.target, i), { class: 'danger', 'aria-label': t('common.deleteNamed', { name: i.name }) }) : null) },
      ], igs.items.map(i => Object.assign({ __key: i.id }, i)), { id: 'integrations-table' }));
    } catch (e) { clear(listBox).appendChild(errorState(e, load)); }
  }

  async function rotate(btn, ig) {
    if (!confirm(t('integrations.confirmRotate', { name: ig.name }))) return;
    await busy(btn, async () => {
      try {
        const r = await api('POST', ipath(ig.id, '/webhook-secret'));
        clear(formBox).appendChild(panel(t('integrations.rotatedTitle', { name: ig.name }), secretPanel(ig, r.secret)));
        formBox.querySelector('.panel').focus();
      } catch (e) { clear(formBox).appendChild(errorState(e)); }
    });
  }

  async function remove(btn, ig) {
    if (!confirm(t('integrations.confirmDelete', { name: ig.name }))) return;
    await busy(btn, async () => {
      try { await api('DELETE', ipath(ig.id)); announce(t('common.deleted')); await ctx.reloadIntegrations(); } catch (e) { alert(e.message); }
    });
  }

  async function createForm() {
    clear(formBox).appendChild(loading());
    try { conns = (await api('GET', '/v1/connections?limit=500')).items; } catch (e) { clear(formBox).appendChild(errorState(e, createForm)); return; }
    clear(formBox);
    const err = formError();
    const name = input({ name: 'name' });
    const opts = kind => [{ value: '', label: t('integrations.chooseConnection') }].concat(conns.filter(c => c.kind === kind).map(c => ({ value: c.id, label: c.name })));
    const rmm = select(opts('rmm'), { name: 'rmmConnectionId' });
    const psa = select(opts('psa'), { name: 'psaConnectionId' });
    const save = h('button', { type: 'submit', class: 'primary', id: 'create-integration' }, t('common.create'));
    const form = h('form', { class: 'card', novalidate: true },
      field(t('common.name'), name, { required: true, name: 'name' }),
      field(t('integrations.rmmConnection'), rmm, { required: true, name: 'rmmConnectionId' }),
      field(t('integrations.psaConnection'), psa, { required: true, name: 'psaConnectionId' }),
      err, h('div', { class: 'buttons' }, save, button(t('common.cancel'), () => clear(formBox))));
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      await busy(save, async () => {
        try {
          const ig = await api('POST', '/v1/integrations', { name: name.value, rmmConnectionId: rmm.value, psaConnectionId: psa.value });
          sessionStorage.setItem('rmb.integration', ig.id);
          clear(formBox).appendChild(panel(t('integrations.createdTitle', { name: ig.name }), secretPanel(ig, ig.webhook.secret),
            button(t('common.done'), () => ctx.reloadIntegrations())));
          formBox.querySelector('.panel').focus();
          load();
        } catch (e) { showProblem(form, err, e); }
      });
    });
    formBox.appendChild(panel(t('integrations.addTitle'), form));
    name.focus();
  }

  // picklist fills a datalist from a PSA picklist route; a PSA without one
  // leaves free text.
  async function picklist(path) {
    try { return (await api('GET', path)).items || []; } catch (_) { return []; }
  }

  // ticketLists reads the PSA's ticket picklists (a board's statuses and
  // types with board); a PSA without them leaves the fields free text.
  function ticketLists(ig, board) {
    return api('GET', ipath(ig.id, '/psa/ticket-picklists' + (board ? '?board=' + encodeURIComponent(board) : ''))).catch(() => ({}));
  }

  function fillList(dl, items) {
    clear(dl);
    for (const i of items || []) dl.appendChild(h('option', { value: i.name }));
  }

  function listField(label, ctl, items, opts) {
    const id = nextId('dl');
    ctl.setAttribute('list', id);
    const f = field(label, ctl, opts);
    const dl = h('datalist', { id });
    fillList(dl, items);
    f.appendChild(dl);
    return f;
  }

  // boardLabel names the ticket board as the PSA calls it: the ConnectWise
  // service board, the Autotask queue, the HaloPSA team.
  function boardLabel(ig) {
    const c = conns.find(x => x.id === ig.psaConnectionId);
    switch (c && c.provider) {
      case 'connectwise': return t('integrations.boardConnectWise');
      case 'autotask': return t('integrations.boardAutotask');
      case 'halopsa': return t('integrations.boardHalo');
      default: return t('integrations.board');
    }
  }

  // settingsForm edits an integration's settings, read afresh (not the
  // list's copy). Saving changes only what was changed in the form: every
  // other setting is kept as stored (see the submit handler). notice, when
  // set, is shown in the form (why it was reloaded).
  async function settingsForm(ig, notice) {
    clear(formBox).appendChild(loading());
    let s;
    try {
      s = (await api('GET', ipath(ig.id))).settings || {};
      ig.settings = s;
    } catch (e) { clear(formBox).appendChild(errorState(e, () => settingsForm(ig))); return; }
    const td = s.ticketDefaults || {};
    // The board field edits board, or queue when only queue is set (the
    // key the PSA's board is read from then).
    const boardKey = !td.board && td.queue ? 'queue' : 'board';
    const [statuses, types, tp] = await Promise.all([
      picklist(ipath(ig.id, '/psa/account-statuses?limit=500')),
      picklist(ipath(ig.id, '/psa/account-types?limit=500')),
      ticketLists(ig, td[boardKey]),
    ]);
    const ro = !can('admin');
    const err = formError();
    const chk = (name, v) => { const c = input({ type: 'checkbox', name, checked: !!v, disabled: ro }); return c; };
    const auto = chk('settings.autoCreateAccounts', s.autoCreateAccounts);
    const prov = chk('settings.provisionRmmOrgs', s.provisionRmmOrgs);
    const ad = s.accountDefaults || {};
    // A stored value the PSA's list lacks (an id, or the list could not be
    // read) stays offered and selected, so saving does not clear it.
    const choices = (list, v) => [{ value: '', label: t('integrations.psaDefault') }]
      .concat(list.map(x => ({ value: x.name, label: x.name, selected: v === x.name })))
      .concat(v && !list.some(x => x.name === v) ? [{ value: v, label: v, selected: true }] : []);
    const adStatus = select(choices(statuses, ad.status), { disabled: ro });
    const adType = select(choices(types, ad.type), { disabled: ro });
    const catchAll = input({ value: s.catchAllAccountId || '', disabled: ro });
    const reopen = input({ type: 'number', min: '0', max: '10080', value: s.reopenWindowMinutes || 0, disabled: ro });
    const tdBoard = input({ value: td[boardKey] || '', disabled: ro });
    const tdStatus = input({ value: td.status || '', disabled: ro });
    const tdType = input({ value: td.type || '', disabled: ro });
    const tdPriority = input({ value: td.priority || '', disabled: ro });
    const pm = s.priorityMap || {};
    const prios = SEVERITIES.map(sev => input({ value: pm[sev] || '', disabled: ro, 'data-sev': sev }));
    // The alert policy: the integration-wide rules here; per-organization
    // overrides (settings.alertPolicy.organizations) are kept as they are
    // and edited through the API.
    const ap = s.alertPolicy || {};
    const apMin = select([{ value: '', label: t('integrations.policy.anySeverity') }].concat(SEVERITIES.slice().reverse().map(sev => ({ value: sev, label: t('severity.' + sev), selected: ap.minSeverity === sev }))), { disabled: ro });
    const apInclude = input({ value: (ap.includeTypes || []).join(', '), disabled: ro });
    const apExclude = input({ value: (ap.excludeTypes || []).join(', '), disabled: ro });
    const apMaint = chk('settings.alertPolicy.skipMaintenance', ap.skipMaintenance);
    const apFlood = input({ type: 'number', min: '0', max: '1000', value: ap.maxTicketsPerHour || 0, disabled: ro });
    const save = h('button', { type: 'submit', class: 'primary', id: 'save-settings' }, t('common.save'));
    const result = h('div', { role: 'status' });
    tdBoard.addEventListener('change', async () => {
      const fresh = await ticketLists(ig, tdBoard.value.trim());
      fillList(document.getElementById(tdStatus.getAttribute('list')), fresh.statuses);
      fillList(document.getElementById(tdType.getAttribute('list')), fresh.types);
    });
    const form = h('form', { class: 'card', novalidate: true, id: 'settings-form' },
      h('p', {}, t('integrations.webhookUrl') + ': ', h('code', { text: webhookURL(ig) })),
      field(t('integrations.autoCreate'), auto, { name: 'settings.autoCreateAccounts', inline: true }),
      field(t('integrations.provision'), prov, { name: 'settings.provisionRmmOrgs', inline: true }),
      h('fieldset', {}, h('legend', { text: t('integrations.accountDefaults') }),
        field(t('common.status'), adStatus, { name: 'settings.accountDefaults.status' }),
        field(t('common.type'), adType, { name: 'settings.accountDefaults.type' })),
      field(t('integrations.catchAll'), catchAll, { name: 'settings.catchAllAccountId', hint: t('integrations.catchAllHint') }),
      field(t('integrations.reopenWindow'), reopen, { name: 'settings.reopenWindowMinutes' }),
      h('fieldset', {}, h('legend', { text: t('integrations.ticketDefaults') }),
        listField(boardLabel(ig), tdBoard, tp.boards || [], { name: 'settings.ticketDefaults.' + boardKey }),
        listField(t('common.status'), tdStatus, tp.statuses || [], { name: 'settings.ticketDefaults.status' }),
        listField(t('common.type'), tdType, tp.types || [], { name: 'settings.ticketDefaults.type' }),
        listField(t('integrations.ticketPriority'), tdPriority, tp.priorities || [], { name: 'settings.ticketDefaults.priority', hint: t('integrations.ticketPriorityHint') })),
      h('fieldset', {}, h('legend', { text: t('integrations.priorityMap') }),
        SEVERITIES.map((sev, i) => listField(t('severity.' + sev), prios[i], tp.priorities || [], { name: 'settings.priorityMap.' + sev }))),
      h('fieldset', {}, h('legend', { text: t('integrations.policy') }),
        field(t('integrations.policy.minSeverity'), apMin, { name: 'settings.alertPolicy.minSeverity' }),
        field(t('integrations.policy.include'), apInclude, { name: 'settings.alertPolicy.includeTypes', hint: t('integrations.policy.typesHint') }),
        field(t('integrations.policy.exclude'), apExclude, { name: 'settings.alertPolicy.excludeTypes', hint: t('integrations.policy.typesHint') }),
        field(t('integrations.policy.maintenance'), apMaint, { name: 'settings.alertPolicy.skipMaintenance', inline: true }),
        field(t('integrations.policy.flood'), apFlood, { name: 'settings.alertPolicy.maxTicketsPerHour', hint: t('integrations.policy.floodHint') })),
      err, result,
      h('div', { class: 'buttons' }, ro ? null : save, button(t('common.close'), () => clear(formBox))));
    // values are the form's values by settings path (undefined: not set).
    const trimmed = v => v.trim() || undefined;
    const list = v => { const l = v.split(',').map(x => x.trim()).filter(Boolean); return l.length ? l : undefined; };
    const values = () => Object.assign({
      autoCreateAccounts: auto.checked,
      provisionRmmOrgs: prov.checked,
      'accountDefaults.status': trimmed(adStatus.value),
      'accountDefaults.type': trimmed(adType.value),
      catchAllAccountId: trimmed(catchAll.value),
      reopenWindowMinutes: Number(reopen.value || 0) || undefined,
      ['ticketDefaults.' + boardKey]: trimmed(tdBoard.value),
      'ticketDefaults.status': trimmed(tdStatus.value),
      'ticketDefaults.type': trimmed(tdType.value),
      'ticketDefaults.priority': trimmed(tdPriority.value),
      'alertPolicy.minSeverity': apMin.value || undefined,
      'alertPolicy.includeTypes': list(apInclude.value),
      'alertPolicy.excludeTypes': list(apExclude.value),
      'alertPolicy.skipMaintenance': apMaint.checked || undefined,
      'alertPolicy.maxTicketsPerHour': Number(apFlood.value || 0) || undefined,
    }, Object.fromEntries(SEVERITIES.map((sev, i) => ['priorityMap.' + sev, trimmed(prios[i].value)])));
    // shown are the values as the form showed (or last saved) them.
    let shown = values();
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      clearProblem(form, err);
      await busy(save, async () => {
        try {
          // PATCH replaces the settings whole: the ones stored now, read
          // again, with only the values changed in the form set over them.
          // Whatever else is stored, shown or not (a ticketDefaults key the
          // form lacks, an organization override, a value changed through
          // the API while the form was open), is sent back as it is.
          // The PATCH carries that read's ETag in If-Match: a change landing
          // between the read and the PATCH makes it a 412 and nothing is
          // written; the form is then reloaded with that change.
          const now = values();
          const cur = await api('GET', ipath(ig.id), undefined, { withETag: true });
          const settings = structuredClone(cur.data.settings || {});
          for (const [path, v] of Object.entries(now)) {
            if (JSON.stringify(v) !== JSON.stringify(shown[path])) setPath(settings, path, v);
          }
          const out = await api('PATCH', ipath(ig.id), { settings }, { ifMatch: cur.etag });
          ig.settings = out.settings;
          shown = now;
          clear(result).appendChild(h('p', { class: 'success', text: t('common.saved') }));
          announce(t('common.saved'));
        } catch (e) {
          if (changedElsewhere(e)) { settingsForm(ig, t('common.changedElsewhere')); return; }
          showProblem(form, err, e);
        }
      });
    });
    clear(formBox).appendChild(panel(t('integrations.settingsNamed', { name: ig.name }), form));
    if (notice) { showProblem(form, err, { problem: { detail: notice } }); announce(notice); }
    formBox.querySelector('.panel').focus();
  }

  load();
}
