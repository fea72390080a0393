// Small DOM helpers: every element is built with h(), never from HTML
// strings, so nothing the API returns can become markup.
import { t } from './i18n.js';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let uid = 0;
export function nextId(prefix) { uid += 1; return `${prefix || 'f'}-${uid}`; }

// field wraps a control with its label, an optional hint and the slot where
// a problem's field error for it is shown. name is the API field path
// (problem+json errors[].field) the control answers for.
export function field(label, control, opts = {}) {
  const id = control.id || nextId('f');
  control.id = id;
  const errId = id + '-error';
  control.setAttribute('aria-describedby', errId + (opts.hint ? ' ' + id + '-hint' : ''));
  if (opts.name) control.dataset.field = opts.name;
  const wrap = h('div', { class: 'field' + (opts.inline ? ' inline' : '') },
    h('label', { for: id, text: label + (opts.required ? ' *' : '') }),
    control,
    opts.hint ? h('p', { class: 'hint', id: id + '-hint', text: opts.hint }) : null,
    h('p', { class: 'field-error', id: errId, 'data-error-for': opts.name || '', role: 'alert' }));
  if (opts.required) control.required = true;
  return wrap;
}

export function input(attrs) { return h('input', Object.assign({ type: 'text' }, attrs)); }

export function select(options, attrs) {
  const s = h('select', attrs || {});
  for (const o of options) s.appendChild(h('option', { value: o.value, text: o.label, selected: o.selected }));
  return s;
}

export function button(label, onclick, attrs) {
  return h('button', Object.assign({ type: 'button', onclick }, attrs || {}), label);
}

// formError is the box above a form's buttons for the problem's detail and
// for field errors no control answers for.
export function formError() {
  return h('div', { class: 'form-error', role: 'alert', hidden: true });
}

// showProblem puts a problem's detail in box and each field error beside
// the control whose data-field names it (or in box when none does).
export function showProblem(root, box, err) {
  clearProblem(root, box);
  const p = (err && err.problem) || { detail: String(err && err.message || err) };
  const lines = [];
  if (p.detail) lines.push(p.detail);
  for (const fe of p.errors || []) {
    const slot = [...root.querySelectorAll('[data-error-for]')].find(e => e.dataset.errorFor && fe.field === e.dataset.errorFor);
    if (slot) {
      slot.textContent = fe.message;
      const ctl = root.querySelector(`[data-field="${CSS.escape(fe.field)}"]`);
      if (ctl) ctl.setAttribute('aria-invalid', 'true');
    } else {
      lines.push(`${fe.field}: ${fe.message}`);
    }
  }
  if (p.requestId) lines.push(t('common.requestId', { id: p.requestId }));
  box.hidden = false;
  clear(box);
  box.appendChild(h('strong', { text: t('common.problemTitle', { status: p.status || '' }) }));
  for (const l of lines) box.appendChild(h('p', { text: l }));
  const first = root.querySelector('[aria-invalid="true"]');
  if (first) first.focus();
}

export function clearProblem(root, box) {
  for (const s of root.querySelectorAll('[data-error-for]')) s.textContent = '';
  for (const c of root.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
  if (box) { box.hidden = true; clear(box); }
}

// busy disables a button while fn runs and shows the loading label.
export async function busy(btn, fn) {
  const label = btn.textContent;
  btn.disabled = true;
  btn.setAttribute('aria-busy', 'true');
  btn.textContent = t('common.working');
  try { return await fn(); } finally {
    btn.disabled = false;
    btn.removeAttribute('aria-busy');
    btn.textContent = label;
  }
}

export function loading() {
  return h('p', { class: 'state loading', role: 'status', text: t('common.loading') });
}

export function errorState(err, retry) {
  const p = (err && err.problem) || {};
  return h('div', { class: 'state error', role: 'alert' },
    h('strong', { text: t('common.loadFailed') }),
    h('p', { text: p.detail || String(err && err.message || err) }),
    p.requestId ? h('p', { class: 'muted', text: t('common.requestId', { id: p.requestId }) }) : null,
    retry ? button(t('common.retry'), retry) : null);
}

export function emptyState(text, action) {
  return h('div', { class: 'state empty' }, h('p', { text }), action || null);
}

// table builds an accessible table: cols are {label, cell(row) → Node|string}.
export function table(caption, cols, rows, attrs) {
  return h('div', { class: 'table-wrap' },
    h('table', attrs || {},
      h('caption', { class: 'sr-only', text: caption }),
      h('thead', {}, h('tr', {}, cols.map(c => h('th', { scope: 'col', text: c.label })))),
      h('tbody', {}, rows.map(r => h('tr', { 'data-key': r.__key || null }, cols.map(c => h('td', { 'data-col': c.key || null }, c.cell(r))))))));
}

export function badge(text, kind) { return h('span', { class: 'badge ' + (kind || ''), text }); }

export function fmtTime(s) {
  if (!s) return '—';
  const d = new Date(s);
  if (isNaN(d)) return s;
  return d.toLocaleString();
}

export function fmtBytes(n) {
  if (n === undefined || n === null) return '—';
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0; let v = n;
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(i ? 1 : 0)} ${u[i]}`;
}

// announce speaks a status message through the page's live region.
export function announce(text) {
  const r = document.getElementById('live');
  if (r) { r.textContent = ''; setTimeout(() => { r.textContent = text; }, 10); }
}

export function panel(title, ...children) {
  const id = nextId('panel');
  return h('section', { class: 'panel', 'aria-labelledby': id, tabindex: '-1' }, h('h3', { id, text: title }), children);
}
