// String catalogues: one JSON file per language under i18n/, the same keys
// in each (a Go test checks it, and that every key the code uses exists).
export const LANGUAGES = { en: 'English', it: 'Italiano' };
let strings = {};
let current = 'en';

export function lang() { return current; }

export async function setLang(code) {
  if (!LANGUAGES[code]) code = 'en';
  const res = await fetch(`/console/i18n/${code}.json`, { credentials: 'omit' });
  if (!res.ok) throw new Error(`catalogue ${code}: ${res.status}`);
  strings = await res.json();
  current = code;
  document.documentElement.lang = code;
  try { localStorage.setItem('rmb.lang', code); } catch (_) { /* private mode */ }
}

export function preferredLang() {
  try {
    const saved = localStorage.getItem('rmb.lang');
    if (saved && LANGUAGES[saved]) return saved;
  } catch (_) { /* private mode */ }
  return (navigator.language || 'en').toLowerCase().startsWith('it') ? 'it' : 'en';
}

// t returns the string for key with {name} placeholders filled in; an
// unknown key shows itself, so a gap is visible rather than blank.
export function t(key, vars) {
  let s = strings[key];
  if (s === undefined) return key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])));
  return s;
}
