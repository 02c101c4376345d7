// What the handover and the residents list both show of a resident: where they are, NEWS2 now
// with its band in its colour, and whether observations are due.
import { h } from './dom.js';
import { labels, t } from './i18n.js';
import { formatAt } from './sitetime.js';

// A family-bed resident lives at home: their room is stored as "home" (see docs/web.md).
export const HOME_ROOM = 'home';

/** "201 房", or "居家" for a resident at home; '' when no room is known. */
export function roomText(room) {
  if (!room) return '';
  return room === HOME_ROOM ? t('resident.home') : t('resident.room', { room });
}

/** "Unit u1 · Room 201 · Bed 1" (the parts known). */
export function placeText(row, { unit = false } = {}) {
  const parts = [];
  if (unit && row.unit_id) parts.push(t('resident.unit', { unit: row.unit_id }));
  if (row.room) parts.push(roomText(row.room));
  if (row.bed) parts.push(t('resident.bed', { bed: row.bed }));
  return parts.join(' · ');
}

export function residentLink(residentId, name) {
  return h(
    'a',
    { href: `/residents/${residentId}` },
    name || t('resident.fallback_name', { id: residentId }),
  );
}

/** The score a list sorts by: the total, or the lower bound an incomplete score proves. */
export function news2Score(news2) {
  return news2.complete ? news2.total : news2.proven_total;
}

/** NEWS2 as a chip: "5" or "≥ 3", the band (or what it proves, or "incomplete"). */
export function news2Chip(news2) {
  const band = news2.band || news2.proven_band || 'unknown';
  let bandLabel = t('news2.incomplete');
  if (news2.band) bandLabel = t(`band.${news2.band}`);
  else if (news2.proven_band) {
    bandLabel = t('news2.at_least', { band: t(`band.${news2.proven_band}`) });
  }
  const score = news2.complete ? String(news2.total) : `≥ ${news2.proven_total}`;
  return h(
    'span',
    { class: `news2-cell band-${band}`, dataset: { band, complete: String(news2.complete) } },
    h('span', { class: 'score news2-chip' }, score),
    ' ',
    h('span', { class: 'band-label' }, bandLabel),
  );
}

/** "Overdue: SpO2, …", "Due now: …" or "Next: 14:00" in the site's zone. */
export function observationText(observations, zone) {
  const list = labels('param.', observations.parameters);
  if (observations.status === 'overdue') return t('news2.overdue', { list });
  if (observations.status === 'due') return t('news2.due_now', { list });
  if (!observations.due_at) return t('news2.none_due');
  return t('news2.due_at', { time: formatAt(observations.due_at, zone) });
}
