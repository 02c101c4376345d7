// The board's room/bed view: every resident in the place at a glance, one tile each, in room
// and bed order: an open alert (in its severity's colour), a device problem, observations due,
// or nothing to do. Isolated residents come last in their unit (the round order), a flagged
// unit's tiles follow its heading as one cohort (js/isolation.js).
import { h } from './dom.js';
import { label, t } from './i18n.js';
import { SEVERITY_RANK } from './incidents.js';
import { roundOrder, unitHeading, withCohorts } from './isolation.js';
import { roomText } from './wardview.js';

const byPlace = (a, b) =>
  (a.unit_id || '').localeCompare(b.unit_id || '') ||
  (a.room || '').localeCompare(b.room || '', undefined, { numeric: true }) ||
  (a.bed || '').localeCompare(b.bed || '', undefined, { numeric: true }) ||
  a.resident_id - b.resident_id;

/** The resident's state: what the tile shows first (alert > device > observation > ok). */
function stateOf(alert, device, observation) {
  if (alert) return 'alert';
  if (device) return 'device';
  if (observation) return 'obs';
  return 'ok';
}

/** Tiles for `residents`; `incidents` open ones, `news2` the NEWS2 list, `problemOf(device)`
 * a device's problem or null, `flags` the isolation and cohort flags in force. */
export function wardTiles(residents, incidents, news2, problemOf, flags = []) {
  const loudest = new Map();
  for (const incident of incidents) {
    const rid = incident.lead.resident_id;
    if (rid === null) continue;
    const known = loudest.get(rid);
    if (!known || SEVERITY_RANK[incident.severity] > SEVERITY_RANK[known.severity])
      loudest.set(rid, incident);
  }
  const due = new Map(
    news2.filter((n) => n.observations.status !== 'ok').map((n) => [n.resident_id, n]),
  );
  const ordered = roundOrder([...residents].sort(byPlace), flags);
  const heading = (place) => unitHeading('li', flags, place);
  return withCohorts(ordered, flags, (r) => {
    const incident = loudest.get(r.resident_id);
    const problems = (r.devices || []).map(problemOf).filter(Boolean);
    const observation = due.get(r.resident_id);
    const state = stateOf(incident, problems.length, observation);
    const badges = [];
    if (incident) {
      badges.push(
        h(
          'span',
          { class: `badge tile-alert sev-${incident.severity}` },
          `${t(`severity.${incident.severity}`)} · ${label('rule.', incident.top.rule_id)}`,
        ),
      );
      if (incident.unacked) badges.push(h('span', { class: 'badge' }, t('grid.unacked')));
    }
    for (const problem of new Set(problems))
      badges.push(h('span', { class: 'badge tile-device' }, t(`device.${problem}`)));
    if (observation) {
      const overdue = observation.observations.status === 'overdue';
      const text = t(overdue ? 'grid.obs_overdue' : 'grid.obs_due');
      badges.push(h('span', { class: 'badge tile-obs' }, text));
    }
    if (!badges.length) badges.push(h('span', { class: 'badge tile-ok' }, t('grid.ok')));
    const place = [
      r.room ? roomText(r.room) : null,
      r.bed ? t('resident.bed', { bed: r.bed }) : null,
    ].filter(Boolean);
    return h(
      'li',
      {
        class: `tile state-${state}${incident ? ` sev-${incident.severity}` : ''}`,
        dataset: {
          residentId: r.resident_id,
          state,
          severity: incident?.severity || '',
          unit: r.unit_id || '',
        },
      },
      h(
        'a',
        { href: `/residents/${r.resident_id}` },
        h('span', { class: 'tile-place' }, place.join(' · ') || t('grid.no_bed')),
        h('strong', { class: 'tile-name' }, r.display_name),
      ),
      h('span', { class: 'tile-badges' }, badges),
    );
  }, heading);
}
