// Isolation and cohort flags in force (issue 18): a banner for each flagged unit, and a chip
// beside each flagged resident, on the board and the residents list; and the ward views acting
// on them (round order, cohorts): docs/web.md.
import { h, put } from './dom.js';
import { t } from './i18n.js';
import { api } from './session.js';

/** The flags in force at the place (`site`, `unit` of the query); none if they cannot load. */
export async function loadFlags(query) {
  const given = new URLSearchParams(query);
  const place = new URLSearchParams();
  for (const key of ['site', 'unit']) if (given.get(key)) place.set(key, given.get(key));
  try {
    return (await api(`/api/v1/isolation-flags?${place}`)).items;
  } catch {
    return [];
  }
}

/** Chips for one resident's flags. */
export function residentChips(flags, residentId) {
  return flags
    .filter((f) => f.resident_id === residentId)
    .map((f) =>
      h(
        'span',
        { class: `badge isolation-flag flag-${f.kind}`, title: f.reason, dataset: { flag: f.kind } },
        t(`isolation.${f.kind}`),
      ),
    );
}

/** The units' flags, in `box` (hidden when there are none). */
export function renderBanner(box, flags) {
  const units = flags.filter((f) => f.resident_id === null);
  box.hidden = units.length === 0;
  put(
    box,
    ...units.map((f) =>
      h(
        'span',
        { class: `isolation-unit flag-${f.kind}`, dataset: { flag: f.kind } },
        t(`isolation.unit_${f.kind}`, { unit: f.unit_id, reason: f.reason }),
      ),
    ),
  );
}

// --- the ward views acting on the flags: round order and cohorts ---------------------------

/** A resident's own precaution: 'isolation', 'cohort' or null (isolation wins). */
export function precautionOf(flags, residentId) {
  const own = flags.filter((f) => f.resident_id === residentId).map((f) => f.kind);
  if (own.includes('isolation')) return 'isolation';
  return own.includes('cohort') ? 'cohort' : null;
}

/** The flag in force on the whole unit of `place` (a row with `site_id` and `unit_id`;
 * isolation before cohort), or null. */
export function unitFlag(flags, place) {
  const units = flags.filter(
    (f) =>
      f.resident_id === null &&
      f.unit_id === place.unit_id &&
      (!place.site_id || f.site_id === place.site_id),
  );
  return units.find((f) => f.kind === 'isolation') || units[0] || null;
}

const RANK = { cohort: 1, isolation: 2 };
// A unit is known by its site too: an every-site list may have a "u1" at two sites.
const unitKey = (item) => `${item.site_id || ''}/${item.unit_id}`;

/** The round order: units as they come, and in each unit the residents with no precaution of
 * their own first, then those cohorted, then those in isolation (infection control: care for
 * them after the others), each group in the order given. */
export function roundOrder(items, flags) {
  const units = new Map();
  const rows = items.map((item, index) => {
    const key = unitKey(item);
    if (!units.has(key)) units.set(key, units.size);
    const rank = RANK[precautionOf(flags, item.resident_id)] || 0;
    return { item, index, unit: units.get(key), rank };
  });
  rows.sort((a, b) => a.unit - b.unit || a.rank - b.rank || a.index - b.index);
  return rows.map((row) => row.item);
}

/** Whether anyone in `items` has a precaution of their own (the round order then says so). */
export function anyPrecaution(items, flags) {
  return items.some((item) => precautionOf(flags, item.resident_id) !== null);
}

/** The heading of the group of `place`'s unit if it is flagged ("单元 u1 集中安置中：…"),
 * or null. */
export function unitHeading(tag, flags, place, attrs = {}) {
  const flag = unitFlag(flags, place);
  if (!flag) return null;
  const unitId = place.unit_id;
  return h(
    tag,
    { class: `cohort-head flag-${flag.kind}`, dataset: { cohortUnit: unitId, flag: flag.kind }, ...attrs },
    t(`isolation.unit_${flag.kind}`, { unit: unitId, reason: flag.reason }),
  );
}

/** `render(item)` for each item in round order, each flagged unit's residents after its
 * heading (`heading(item)` for the unit's first, null for none) as one cohort. */
export function withCohorts(ordered, flags, render, heading) {
  const out = [];
  let unit;
  for (const item of ordered) {
    const flagged = unitFlag(flags, item);
    if (unitKey(item) !== unit) {
      unit = unitKey(item);
      const head = flagged ? heading(item) : null;
      if (head) out.push(head);
    }
    const node = render(item);
    const precaution = precautionOf(flags, item.resident_id);
    if (precaution) node.dataset.precaution = precaution;
    if (flagged) node.dataset.cohort = item.unit_id;
    out.push(node);
  }
  return out;
}
