// Residents and the ward at a glance for medical staff: every resident in scope with unit,
// room and bed, NEWS2 now (band, complete or not), open alerts and observations due; sorted by
// bed, or by NEWS2 with the highest risk first.
import { $, h, put } from './dom.js';
import { LANGUAGE_EVENT, initI18n, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import {
  anyPrecaution,
  loadFlags,
  renderBanner,
  residentChips,
  roundOrder,
  unitHeading,
  withCohorts,
} from './isolation.js';
import { api, requireSession } from './session.js';
import { news2Chip, news2Score, observationText, placeText, residentLink } from './wardview.js';

const REFRESH_MS = 60_000;
const SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1 };
const OBSERVATION_RANK = { overdue: 2, due: 1, ok: 0 };
const state = { me: null, items: [], flags: [], error: null, sort: 'bed' };

function placeQuery() {
  const params = new URLSearchParams(location.search);
  const out = new URLSearchParams({ limit: '500' });
  const own = state.me.unit_ids.length === 1 ? state.me.unit_ids[0] : null;
  const site = params.get('site') || state.me.site_id;
  const unit = params.get('unit') || own;
  if (site) out.set('site', site);
  if (unit) out.set('unit', unit);
  return out;
}

async function load() {
  try {
    const [ward, flags] = await Promise.all([api(`/api/v1/ward?${placeQuery()}`), loadFlags(placeQuery())]);
    state.items = ward.items;
    state.flags = flags;
    state.error = null;
  } catch (error) {
    state.error = error;
  }
  render();
}

/** Highest NEWS2 first; then the surer band, overdue observations, and bed order. */
function byNews2(a, b) {
  const band = (n) => ['low', 'low_medium', 'medium', 'high'].indexOf(n.band || n.proven_band);
  return (
    news2Score(b.item.news2) - news2Score(a.item.news2) ||
    band(b.item.news2) - band(a.item.news2) ||
    OBSERVATION_RANK[b.item.news2.observations.status] -
      OBSERVATION_RANK[a.item.news2.observations.status] ||
    a.index - b.index
  );
}

/** By NEWS2; or the round order: the API's bed order, isolated residents last in their unit. */
function sorted() {
  if (state.sort !== 'news2') return roundOrder(state.items, state.flags);
  const rows = state.items.map((item, index) => ({ item, index }));
  rows.sort(byNews2);
  return rows.map((row) => row.item);
}

/** A flagged unit's heading row: its residents below it are one cohort. */
function cohortRow(place) {
  const attrs = { colspan: 5, scope: 'rowgroup' };
  return h('tr', { class: 'cohort-row' }, unitHeading('th', state.flags, place, attrs));
}

function cell(key, ...children) {
  return h('td', { dataset: { label: t(key) } }, children);
}

function row(item) {
  const obs = item.news2.observations;
  const alerts = item.open_alerts
    ? h(
        'span',
        { class: `badge alerts-open sev-${item.top_severity}` },
        t('ward.alert_count', {
          n: item.open_alerts,
          severity: t(`severity.${item.top_severity}`),
        }),
      )
    : h('span', { class: 'muted' }, t('ward.no_alerts'));
  return h(
    'tr',
    {
      class: `ward-row obs-${obs.status}`,
      dataset: {
        residentId: item.resident_id,
        score: news2Score(item.news2),
        complete: String(item.news2.complete),
        alerts: item.open_alerts,
      },
    },
    cell('ward.bed', placeText(item, { unit: true }) || '—'),
    cell('ward.name', residentLink(item.resident_id, item.display_name), ...residentChips(state.flags, item.resident_id)),
    cell('ward.news2', news2Chip(item.news2)),
    cell('ward.alerts', alerts),
    cell(
      'ward.observations',
      h('span', { class: `obs obs-${obs.status}` }, observationText(obs, item.timezone)),
    ),
  );
}

function render() {
  const table = $('#ward-table');
  if (state.error) {
    const message = t('common.error', { detail: state.error.message });
    put($('#ward-rows'), h('tr', {}, h('td', { class: 'error', colspan: 5 }, message)));
    return;
  }
  const items = sorted();
  renderBanner($('#isolation-banner'), state.flags);
  const rounds = state.sort !== 'news2';
  put($('#ward-rows'), rounds ? withCohorts(items, state.flags, row, cohortRow) : items.map(row));
  $('#round-note').hidden = !rounds || !anyPrecaution(items, state.flags);
  $('#no-residents').hidden = items.length > 0;
  table.hidden = items.length === 0;
  $('#ward-count').textContent = t('ward.count', { n: items.length });
  for (const button of document.querySelectorAll('button.sort')) {
    const active = button.dataset.sort === state.sort;
    button.setAttribute('aria-pressed', String(active));
    button.title = t(`ward.sort_${button.dataset.sort}`);
    const th = button.closest('th');
    if (active) th.setAttribute('aria-sort', state.sort === 'news2' ? 'descending' : 'ascending');
    else th.removeAttribute('aria-sort');
  }
  table.dataset.sort = state.sort;
  table.dataset.loaded = 'true';
}

function sortBy(key) {
  state.sort = key;
  const params = new URLSearchParams(location.search);
  if (key === 'bed') params.delete('sort');
  else params.set('sort', key);
  const search = params.toString();
  history.replaceState(null, '', search ? `${location.pathname}?${search}` : location.pathname);
  render();
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  state.sort = new URLSearchParams(location.search).get('sort') === 'news2' ? 'news2' : 'bed';
  mountHeader('residents', state.me);
  for (const button of document.querySelectorAll('button.sort')) {
    button.addEventListener('click', () => sortBy(button.dataset.sort));
  }
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('residents', state.me);
    render();
  });
  await load();
  setInterval(load, REFRESH_MS);
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
