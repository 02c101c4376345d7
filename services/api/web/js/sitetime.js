// Times in the site's time zone (the API names it), whatever zone the phone or PC is set to:
// a handover printed at the nurses' station and read on a phone must say the same times.
import { language, locale } from './i18n.js';

/** "12月7日 07:00" / "7 Dec, 07:00" (or only the time) of an instant in `zone`. */
export function formatAt(iso, zone, { date = true } = {}) {
  if (!iso) return '—';
  const options = { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  if (date) {
    options.month = language() === 'zh' ? 'long' : 'short';
    options.day = 'numeric';
  }
  return new Intl.DateTimeFormat(locale(), options).format(new Date(iso));
}

/** "07:00" for today in `zone`, else "12月7日 07:00": a time on a page read in the site's zone. */
export function formatSiteTime(iso, zone) {
  if (!iso) return '—';
  return formatAt(iso, zone, { date: !sameDay(iso, new Date().toISOString(), zone) });
}

/** How far `zone`'s wall clock is ahead of UTC at the instant `ms`, in ms. */
export function zoneOffsetMs(ms, zone) {
  return Date.parse(`${wall(ms, zone)}Z`) - Math.floor(ms / 1000) * 1000;
}

/** Whether two instants fall on the same day in `zone`. */
export function sameDay(a, b, zone) {
  const day = (iso) => wall(new Date(iso).getTime(), zone).slice(0, 10);
  return day(a) === day(b);
}

/** The wall-clock time of an instant in `zone` as 'YYYY-MM-DDTHH:MM:SS'. */
function wall(ms, zone) {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(ms));
  const get = (type) => parts.find((p) => p.type === type).value;
  const date = `${get('year')}-${get('month')}-${get('day')}`;
  return `${date}T${get('hour')}:${get('minute')}:${get('second')}`;
}

/** A datetime-local input's value ('YYYY-MM-DDTHH:MM') for an instant, in `zone`. */
export function toLocalInput(iso, zone) {
  return wall(new Date(iso).getTime(), zone).slice(0, 16);
}

/** The instant (ISO, UTC) of a datetime-local value read as wall time in `zone`. */
export function fromLocalInput(value, zone) {
  const asUtc = Date.parse(`${value}:00Z`);
  if (Number.isNaN(asUtc)) return null;
  const offset = (ms) => zoneOffsetMs(ms, zone);
  // Twice: the offset at the guess can differ from the offset at the answer (a DST change).
  let utc = asUtc - offset(asUtc);
  utc = asUtc - offset(utc);
  return new Date(utc).toISOString();
}
