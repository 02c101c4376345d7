// Every label comes from a message catalogue (/web/i18n/<lang>.json); English fills any gap.
// The language is the one chosen last (localStorage), else the browser's.

export const LANGUAGES = { en: 'English', zh: '中文' };
const STORAGE_KEY = 'carewatch.lang';
export const LANGUAGE_EVENT = 'carewatch:language';

let messages = {};
let fallback = {};
let current = 'en';

export function preferredLanguage() {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored && stored in LANGUAGES) return stored;
  for (const tag of navigator.languages || [navigator.language || 'en']) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (base in LANGUAGES) return base;
  }
  return 'en';
}

async function catalogue(code) {
  const response = await fetch(`/web/i18n/${code}.json`);
  if (!response.ok) throw new Error(`message catalogue ${code}: HTTP ${response.status}`);
  return response.json();
}

export async function initI18n(code = preferredLanguage()) {
  const [en, chosen] = await Promise.all([catalogue('en'), code === 'en' ? null : catalogue(code)]);
  fallback = en;
  messages = chosen || en;
  current = code;
  document.documentElement.lang = locale();
  applyTranslations();
}

export async function setLanguage(code) {
  localStorage.setItem(STORAGE_KEY, code);
  await initI18n(code);
  document.dispatchEvent(new CustomEvent(LANGUAGE_EVENT, { detail: code }));
}

export function language() {
  return current;
}

/** The BCP 47 locale dates and numbers are formatted in. */
export function locale() {
  return current === 'zh' ? 'zh-CN' : 'en-GB';
}

export function has(key) {
  return key in messages || key in fallback;
}

/** The message for `key` with `{name}` placeholders filled from `params`. */
export function t(key, params = {}) {
  const template = messages[key] ?? fallback[key] ?? key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    name in params ? String(params[name]) : whole,
  );
}

/** The catalogue's keys under `prefix`, without it ("condition." -> copd, dementia, ...). */
export function keysOf(prefix) {
  return Object.keys(fallback)
    .filter((key) => key.startsWith(prefix))
    .map((key) => key.slice(prefix.length));
}

/** `t(prefix + value)` where the catalogue has it, else the value itself (data, not a label). */
export function label(prefix, value) {
  return has(prefix + value) ? t(prefix + value) : String(value);
}

/** Labels of `values` as a list: "呼吸频率、血氧饱和度" in Chinese, "RR, SpO2" in English. */
export function labels(prefix, values) {
  return values.map((value) => label(prefix, value)).join(t('common.list_sep'));
}

export function applyTranslations(root = document) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) {
    el.placeholder = t(el.dataset.i18nPlaceholder);
  }
  for (const el of root.querySelectorAll('[data-i18n-aria-label]')) {
    el.setAttribute('aria-label', t(el.dataset.i18nAriaLabel));
  }
}
