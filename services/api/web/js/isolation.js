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

/** The flag of a whole unit in force (isolation before cohort), or null. */
export function unitFlag(flags, unitId) {
  const units = flags.filter((f) => f.resident_id === null && f.unit_id === unitId);
  return units.find((f) => f.kind === 'isolation') || units[0] || null;
}

const RANK = { cohort: 1, isolation: 2 };

/** The round order: units as they come, and in each unit the residents with no precaution of
 * their own first, then those cohorted, then those in isolation (infection control: care for
 * them after the others), each group in the order given. */
export function roundOrder(items, flags) {
  const units = new Map();
  const rows = items.map((item, index) => {
    if (!units.has(item.unit_id)) units.set(item.unit_id, units.size);
    const rank = RANK[precautionOf(flags, item.resident_id)] || 0;
    return { item, index, unit: units.get(item.unit_id), rank };
  });
  rows.sort((a, b) => a.unit - b.unit || a.rank - b.rank || a.index - b.index);
  return rows.map((row) => row.item);
}

/** Whether anyone in `items` has a precaution of their own (the round order then says so). */
export function anyPrecaution(items, flags) {
  return items.some((item) => precautionOf(flags, item.resident_id) !== null);
}

/** The heading of a flagged unit's group ("单元 u1 集中安置中：…"), or null. */
export function unitHeading(tag, flags, unitId, attrs = {}) {
  const flag = unitFlag(flags, unitId);
  if (!flag) return null;
  return h(
    tag,
    { class: `cohort-head flag-${flag.kind}`, dataset: { cohortUnit: unitId, flag: flag.kind }, ...attrs },
    t(`isolation.unit_${flag.kind}`, { unit: unitId, reason: flag.reason }),
  );
}

/** `render(item)` for each item in round order, each flagged unit's residents after its
 * heading (`heading(unitId)`, null for none) as one cohort. */
export function withCohorts(ordered, flags, render, heading) {
  const out = [];
  let unit;
  for (const item of ordered) {
    if (item.unit_id !== unit) {
      unit = item.unit_id;
      const head = unitFlag(flags, unit) ? heading(unit) : null;
      if (head) out.push(head);
    }
    const node = render(item);
    const precaution = precautionOf(flags, item.resident_id);
    if (precaution) node.dataset.precaution = precaution;
    if (unitFlag(flags, unit)) node.dataset.cohort = unit;
    out.push(node);
  }
  return out;
}
