// The board's cards: alerts grouped by the incident the alert service filed them under (a fall,
// its long lie and the heart-rate spike after it are one card), ordered and filtered.

export const SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };
export const SEVERITIES = ['critical', 'high', 'medium', 'low'];
export const FAMILIES = ['clinical', 'device', 'outbreak'];
export const LOUD = new Set(['high', 'critical']);

/** Which family an alert belongs to: its audience (technical: devices, infection control:
 * outbreaks) or, for older alerts without one, its rule id. */
export function familyOf(alert) {
  if (alert.audience === 'technical' || alert.rule_id.startsWith('device.')) return 'device';
  if (alert.audience === 'infection_control' || alert.rule_id.startsWith('outbreak.'))
    return 'outbreak';
  return 'clinical';
}

/** Unacknowledged: nobody has said they are on it (escalation still runs). */
export function unacked(alert) {
  return alert.status !== 'acknowledged' && alert.status !== 'resolved';
}

/** Open alerts -> incidents: {id, alerts (oldest first), severity, unacked, opened_at, ...}. */
export function incidentsOf(alerts) {
  const byId = new Map();
  for (const alert of alerts) {
    const list = byId.get(alert.incident_id) || [];
    list.push(alert);
    byId.set(alert.incident_id, list);
  }
  return [...byId.entries()].map(([id, list]) => {
    list.sort((a, b) => new Date(a.first_ts) - new Date(b.first_ts) || a.alert_id - b.alert_id);
    const top = list.reduce((a, b) =>
      SEVERITY_RANK[b.severity] > SEVERITY_RANK[a.severity] ? b : a,
    );
    const waiting = list.some(unacked);
    return {
      id,
      alerts: list,
      top,
      severity: top.severity,
      unacked: waiting,
      // The incident's state is shared by its alerts; one not yet acknowledged speaks for it.
      status: (waiting ? list.find(unacked) : list[list.length - 1]).status,
      lead: list[0],
      opened_at: list.map((a) => a.opened_at).sort()[0],
      family: familyOf(list[0]),
    };
  });
}

/** Unacknowledged first, then the most severe, then the one waiting longest. */
export function compareIncidents(a, b) {
  return (
    Number(b.unacked) - Number(a.unacked) ||
    SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
    new Date(a.opened_at) - new Date(b.opened_at) ||
    a.id - b.id
  );
}

/** Filters from the page's address: `severity` and `family`, each a comma list (empty: all). */
export function filtersFrom(params) {
  const list = (name, allowed) =>
    (params.get(name) || '').split(',').filter((v) => allowed.includes(v));
  return { severity: list('severity', SEVERITIES), family: list('family', FAMILIES) };
}

export function passes(incident, filters) {
  return (
    (!filters.severity.length || filters.severity.includes(incident.severity)) &&
    (!filters.family.length || filters.family.includes(incident.family))
  );
}
