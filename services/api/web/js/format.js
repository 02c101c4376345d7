// Times, ages and numbers in the page's language.
import { locale, t } from './i18n.js';

export function formatTime(iso) {
  if (!iso) return '—';
  const when = new Date(iso);
  const today = new Date().toDateString() === when.toDateString();
  const options = today
    ? { hour: '2-digit', minute: '2-digit' }
    : { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat(locale(), options).format(when);
}

const STEPS = [
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
];

/** "5 min ago" (in the page's language) for a past instant. */
export function formatAge(iso, now = Date.now()) {
  if (!iso) return '—';
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  const format = new Intl.RelativeTimeFormat(locale(), { numeric: 'auto', style: 'short' });
  for (const [unit, size] of STEPS) {
    if (Math.abs(seconds) >= size) return format.format(-Math.trunc(seconds / size), unit);
  }
  return format.format(-Math.max(0, seconds), 'second');
}

export function formatNumber(value, digits = 0) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return new Intl.NumberFormat(locale(), {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  }).format(value);
}

/** "1 h", "15 min": how often observations are due. */
export function formatInterval(seconds) {
  return seconds >= 3600
    ? t('news2.hours', { n: formatNumber(seconds / 3600, seconds % 3600 ? 1 : 0) })
    : t('news2.minutes', { n: Math.round(seconds / 60) });
}

/** The catalogue key for one of an alert's values: a vital sign's worst reading is its lowest
 * for a `….low` rule and its highest for a `….high` one ("最低 84 %", not "最差"). */
export function valueKey(key, ruleId) {
  if (key === 'worst' && /\.(low|high)$/.test(ruleId || '')) {
    return `value.worst_${ruleId.endsWith('.low') ? 'low' : 'high'}`;
  }
  return `value.${key}`;
}
