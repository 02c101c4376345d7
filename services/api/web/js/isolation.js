// Isolation and cohort flags in force (issue 18): a banner for each flagged unit, and a chip
// beside each flagged resident, on the board and the residents list.
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
