// The family view: one resident's latest readings and alerts with how they ended, read-only,
// for a family login (only while the resident's family consent is given: 403 otherwise).
import { $, h } from './dom.js';
import { formatNumber, formatTime } from './format.js';
import { LANGUAGE_EVENT, initI18n, label, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { api, requireSession } from './session.js';

const REFRESH_MS = 60_000;
const state = { me: null, summary: null, refused: false };

function residentId() {
  // A family login's own resident; staff and family doctors name one (`?resident=ID`).
  const asked = new URLSearchParams(location.search).get('resident');
  return state.me.resident_id ?? (asked && /^\d+$/.test(asked) ? Number(asked) : null);
}

async function load() {
  const id = residentId();
  if (id === null) {
    state.refused = true;
    return;
  }
  try {
    state.summary = await api(`/api/v1/residents/${id}/summary`);
    state.refused = false;
  } catch (error) {
    if (error.status !== 403 && error.status !== 404) throw error;
    state.summary = null;
    state.refused = true;
  }
}

function reading(metric, value) {
  const shown = metric === 'temp' ? formatNumber(value.value, 1) : formatNumber(value.value);
  const unit = label('unit.', metric);
  return [
    h('dt', {}, label('metric.', metric)),
    h('dd', {}, unit === metric ? shown : `${shown} ${unit}`, h('small', {}, ` · ${formatTime(value.ts)}`)),
  ];
}

function alertItem(alert) {
  const ended = alert.resolved_at
    ? t('family.resolved', { when: formatTime(alert.resolved_at), outcome: label('outcome.', alert.outcome ?? '') })
    : t('family.open');
  return h(
    'li',
    { class: `family-alert severity-${alert.severity}`, 'data-alert': String(alert.alert_id) },
    h('strong', {}, label('rule.', alert.rule_id)),
    ` · ${label('severity.', alert.severity)} · ${formatTime(alert.opened_at)}`,
    h('div', { class: 'family-outcome' }, ended),
  );
}

function render() {
  $('#family-refused').hidden = !state.refused;
  $('#family-view').hidden = state.refused || !state.summary;
  $('#family-name').textContent = state.summary
    ? t('family.heading_of', { name: state.summary.display_name })
    : t('family.heading');
  $('#family-page').dataset.loaded = 'true';
  if (!state.summary) return;
  const { latest, alerts } = state.summary;
  const metrics = Object.keys(latest).sort();
  $('#family-vitals').replaceChildren(...metrics.flatMap((m) => reading(m, latest[m])));
  $('#family-no-vitals').hidden = metrics.length > 0;
  $('#family-alerts').replaceChildren(...alerts.map(alertItem));
  $('#family-no-alerts').hidden = alerts.length > 0;
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('family', state.me);
  await load();
  render();
  setInterval(() => load().then(render).catch(() => {}), REFRESH_MS);
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('family', state.me);
    render();
  });
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
