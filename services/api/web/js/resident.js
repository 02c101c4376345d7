// One resident: profile and devices, the record and goals of care, NEWS2 with its parts,
// current vitals, trend charts with the alert limits, manual observations from rounds, and the
// alert and referral history. With `?referral=ID` (a receiving hospital's physician): only the
// trends and alerts that referral opens to them, while it is open.
import { drawChart } from './chart.js';
import { $, h, put } from './dom.js';
import { deviceWhen } from './devstate.js';
import { formatAge, formatInterval, formatNumber } from './format.js';
import { loadHomeCare, renderHomeCare } from './home_care.js';
import { LANGUAGE_EVENT, initI18n, label, labels, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { loadGoals, renderGoals, renderRecord } from './record_card.js';
import { reasonText } from './referral_detail.js';
import { ApiError, api, requireSession } from './session.js';
import { formatSiteTime } from './sitetime.js';
import { thresholdsFor } from './thresholds.js';
import { mountVisits } from './visits_card.js';
import { roomText } from './wardview.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const RANGES = {
  '1h': { ms: HOUR, bucket: '1m' },
  '24h': { ms: DAY, bucket: '5m' },
  '7d': { ms: 7 * DAY, bucket: '1h' },
  '30d': { ms: 30 * DAY, bucket: '6h' },
};
const BUCKET_MS = {
  '1m': MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '1h': HOUR,
  '6h': 6 * HOUR,
  '1d': DAY,
};
const CHART_METRICS = ['hr', 'spo2', 'rr', 'temp', 'sbp'];
const DIGITS = { temp: 1 };
const ACVPU = 'ACVPU';
const REFRESH_MS = 60_000;

const residentId = Number(location.pathname.split('/').pop());
const query = new URLSearchParams(location.search);
// Read through a referral (GET /api/v1/referrals/{id}/vitals and /alerts), not the resident.
const referralId = Number(query.get('referral')) || null;
const readPath = referralId ? `/api/v1/referrals/${referralId}` : `/api/v1/residents/${residentId}`;
const state = {
  me: null,
  resident: null,
  news2: null,
  latest: null,
  alerts: [],
  referrals: [],
  range: query.get('range') in RANGES ? query.get('range') : '24h',
  metric: CHART_METRICS.includes(query.get('metric')) ? query.get('metric') : 'hr',
  trend: null,
  trendError: null,
};

function unavailable(error) {
  if (error instanceof ApiError && error.status === 403) return t('common.forbidden');
  if (error instanceof ApiError && error.status === 404) return t('resident.not_found');
  return t('common.unavailable');
}

function formatValue(metric, value) {
  if (value === null || value === undefined) return '—';
  if (metric === 'acvpu') return ACVPU[Math.round(value)] ?? String(value);
  if (metric === 'on_o2') return t(value ? 'news2.on_o2_yes' : 'news2.on_o2_no');
  return formatNumber(value, DIGITS[metric] ?? 0);
}

// --- profile -------------------------------------------------------------------------------

function deviceState(device) {
  if (device.online === null) return t('device.silent');
  if (!device.online) return t('device.offline');
  if (device.kind === 'wearable' && device.worn === false) return t('device.off_wrist');
  return t('device.online');
}

function renderProfile() {
  const box = $('#profile');
  const r = state.resident;
  if (!r) return;
  document.title = `${r.display_name} — ${t('app.name')}`;
  const chips = [
    ...r.conditions.map((c) => h('span', { class: 'chip' }, label('condition.', c))),
    r.fall_risk ? h('span', { class: 'chip warn' }, t('resident.fall_risk')) : null,
    r.news2_scale === 2 ? h('span', { class: 'chip' }, t('resident.scale2')) : null,
  ];
  const where = [
    t('resident.unit', { unit: r.unit_id }),
    r.room ? roomText(r.room) : null,
    r.bed ? t('resident.bed', { bed: r.bed }) : null,
  ].filter(Boolean);
  box.replaceChildren(
    h('h1', {}, r.display_name),
    h('p', { class: 'muted' }, where.join(' · ')),
    h('div', { class: 'chips' }, chips),
    h(
      'ul',
      { class: 'devices plain' },
      r.devices.length === 0 ? h('li', { class: 'muted' }, t('resident.no_devices')) : null,
      r.devices.map((d) =>
        h(
          'li',
          { class: `device ${d.online ? 'ok' : 'problem'}` },
          h('strong', {}, label('device_kind.', d.kind)),
          ` ${d.device_id} · ${deviceState(d)}`,
          d.battery !== null ? ` · ${t('device.battery', { level: Math.round(d.battery) })}` : '',
          deviceWhen(d) ? ` · ${deviceWhen(d)}` : '',
        ),
      ),
    ),
    h(
      'p',
      {},
      h(
        'a',
        {
          href: `/board?site=${encodeURIComponent(r.site_id)}&unit=${encodeURIComponent(r.unit_id)}`,
        },
        t('resident.to_board'),
      ),
    ),
  );
}

// --- NEWS2 and the latest values -----------------------------------------------------------

/** An instant on the site's clock (the API names the zone), whatever this device is set to. */
function siteTime(iso) {
  return formatSiteTime(iso, state.resident.site_timezone);
}

/** When observations are due (RCP 2017's frequency for the current risk): due, overdue,
 * or when next. */
function observationsLine(n) {
  const due = n.observations;
  const list = labels('param.', due.parameters);
  const every = t('news2.every', { interval: formatInterval(due.every_s) });
  let text;
  if (due.status === 'overdue') text = t('news2.overdue', { list });
  else if (due.status === 'due') text = t('news2.due_now', { list });
  else if (due.due_at) text = t('news2.due_at', { time: siteTime(due.due_at) });
  else text = t('news2.none_due');
  return h(
    'p',
    {
      id: 'news2-observations',
      class: `observations obs-${due.status}`,
      dataset: { status: due.status },
    },
    text,
    h('span', { class: 'muted' }, ` · ${every}`),
  );
}

function renderNews2() {
  const box = $('#news2');
  const n = state.news2;
  if (n instanceof Error) {
    box.replaceChildren(h('p', { class: 'muted' }, unavailable(n)));
    return;
  }
  if (!n) return;
  const total = n.complete ? String(n.total) : `≥ ${n.proven_total}`;
  // An incomplete score still shows the band its present parameters prove, in its colour.
  const band = n.band || n.proven_band || 'unknown';
  let bandLabel = t('news2.incomplete');
  if (n.band) bandLabel = t(`band.${n.band}`);
  else if (n.proven_band) bandLabel = t('news2.at_least', { band: t(`band.${n.proven_band}`) });
  put(
    box,
    h(
      'div',
      { class: `news2-total band-${band}`, dataset: { band } },
      h('span', { class: 'score', id: 'news2-score' }, total),
      h('span', { class: 'band-label', id: 'news2-band' }, bandLabel),
      h('span', { class: 'muted' }, t('news2.scale', { scale: n.scale })),
    ),
    n.missing.length
      ? h(
          'p',
          { class: 'warn', id: 'news2-missing' },
          t('news2.missing', { list: labels('param.', n.missing) }),
        )
      : null,
    observationsLine(n),
    h(
      'table',
      { class: 'parts' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['news2.parameter', 'news2.value', 'news2.score', 'news2.source', 'news2.time'].map((k) =>
            h('th', {}, t(k)),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        n.parts.map((part) =>
          h(
            'tr',
            { class: `score-${part.score}` },
            h('td', {}, label('param.', part.parameter)),
            h('td', {}, formatValue(part.parameter, part.value)),
            h('td', { class: 'num' }, String(part.score)),
            h('td', {}, part.source ? label('source.', part.source) : '—'),
            h('td', {}, part.ts ? formatAge(part.ts) : '—'),
          ),
        ),
      ),
    ),
  );
}

function renderLatest() {
  const box = $('#latest');
  const latest = state.latest;
  if (latest instanceof Error) {
    box.replaceChildren(h('p', { class: 'muted' }, unavailable(latest)));
    return;
  }
  if (!latest) return;
  const tile = (name, value, unitKey, reading) =>
    h(
      'div',
      { class: 'tile', dataset: { metric: name } },
      h('span', { class: 'tile-label' }, label('metric.', name)),
      h('span', { class: 'tile-value' }, value, unitKey ? h('small', {}, ` ${t(unitKey)}`) : null),
      h('span', { class: 'tile-time muted' }, reading ? formatAge(reading.ts) : t('vitals.none')),
    );
  const bp =
    latest.sbp || latest.dbp
      ? `${formatValue('sbp', latest.sbp?.value)}/${formatValue('dbp', latest.dbp?.value)}`
      : '—';
  box.replaceChildren(
    ...['hr', 'spo2', 'rr', 'temp'].map((m) =>
      tile(m, formatValue(m, latest[m]?.value), `unit.${m}`, latest[m]),
    ),
    tile('bp', bp, 'unit.sbp', latest.sbp || latest.dbp),
    tile('acvpu', formatValue('acvpu', latest.acvpu?.value), null, latest.acvpu),
  );
}

// --- trends --------------------------------------------------------------------------------

function renderToolbar() {
  const button = (group, value, text) =>
    h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(state[group] === value),
        dataset: { [group]: value },
        onclick: () => {
          state[group] = value;
          const params = new URLSearchParams(location.search);
          params.set(group, value);
          history.replaceState(null, '', `${location.pathname}?${params}`);
          renderToolbar();
          loadTrend();
        },
      },
      text,
    );
  $('#ranges').replaceChildren(
    ...Object.keys(RANGES).map((r) => button('range', r, t(`range.${r}`))),
  );
  $('#metrics').replaceChildren(
    ...CHART_METRICS.map((m) => button('metric', m, label('metric.', m))),
  );
}

function limitText(line) {
  const value = formatNumber(line.value, DIGITS[state.metric] ?? 0);
  if (line.side === 'fever') return t('trend.fever', { value });
  return `${line.side === 'low' ? '<' : '>'} ${value}`;
}

function renderChart() {
  const box = $('#chart');
  box.dataset.metric = state.metric;
  box.dataset.range = state.range;
  if (state.trendError) {
    box.replaceChildren(h('p', { class: 'muted' }, unavailable(state.trendError)));
    return;
  }
  const trend = state.trend;
  if (!trend) return;
  // One series per metric asked for (`series`), or a single `points` list.
  const series = trend.series?.find((item) => item.metric === state.metric);
  const points = series ? series.points : trend.points || [];
  const end = trend.end ? new Date(trend.end).getTime() : Date.now();
  const start = trend.start ? new Date(trend.start).getTime() : end - RANGES[state.range].ms;
  drawChart(box, {
    points,
    start,
    end,
    thresholds: thresholdsFor(state.metric, state.resident).map((line) => ({
      ...line,
      text: limitText(line),
    })),
    bucketMs: BUCKET_MS[trend.bucket] || BUCKET_MS[RANGES[state.range].bucket],
    digits: DIGITS[state.metric] ?? 0,
    emptyText: t('trend.no_data'),
    zone: state.resident.site_timezone,
    title: t('trend.title', {
      metric: label('metric.', state.metric),
      range: t(`range.${state.range}`),
    }),
  });
}

let trendRequest = 0;

async function loadTrend() {
  const mine = ++trendRequest;
  const { ms, bucket } = RANGES[state.range];
  const end = new Date();
  const params = new URLSearchParams({
    metric: state.metric,
    start: new Date(end.getTime() - ms).toISOString(),
    end: end.toISOString(),
    bucket,
  });
  try {
    const trend = await api(`${readPath}/vitals?${params}`);
    if (mine !== trendRequest) return; // a newer choice is on its way
    state.trend = trend;
    state.trendError = null;
  } catch (error) {
    if (mine !== trendRequest) return;
    state.trendError = error;
  }
  renderChart();
}

// --- history -------------------------------------------------------------------------------

function renderHistory() {
  const alerts = $('#alert-history');
  if (state.alerts instanceof Error)
    alerts.replaceChildren(h('li', { class: 'muted' }, unavailable(state.alerts)));
  else {
    const items = [...state.alerts].sort((a, b) => new Date(b.opened_at) - new Date(a.opened_at));
    alerts.replaceChildren(
      ...(items.length ? [] : [h('li', { class: 'muted' }, t('history.no_alerts'))]),
      ...items.map((a) =>
        h(
          'li',
          { class: `sev-${a.severity}`, dataset: { alertId: a.alert_id } },
          h('span', { class: 'badge severity' }, t(`severity.${a.severity}`)),
          ' ',
          h('strong', {}, label('rule.', a.rule_id)),
          h(
            'span',
            { class: 'muted' },
            ` · ${siteTime(a.opened_at)} · ${t(`status.${a.status}`)}`,
            a.outcome ? ` · ${label('outcome.', a.outcome)}` : '',
            a.acknowledged_by ? ` · ${t('history.acked_by', { who: a.acknowledged_by })}` : '',
          ),
          a.note ? h('p', { class: 'note' }, a.note) : null,
        ),
      ),
    );
  }
  const referrals = $('#referral-history');
  if (state.referrals instanceof Error) {
    referrals.replaceChildren(h('li', { class: 'muted' }, unavailable(state.referrals)));
    return;
  }
  referrals.replaceChildren(
    ...(state.referrals.length ? [] : [h('li', { class: 'muted' }, t('history.no_referrals'))]),
    ...state.referrals.map((r) =>
      h(
        'li',
        { dataset: { referralId: r.id } },
        h('span', { class: `badge state state-${r.state}` }, t(`state.${r.state}`)),
        ' ',
        h('strong', {}, r.hospital.name),
        h(
          'span',
          { class: 'muted' },
          ` · ${siteTime(r.created_at)} · ${label('trigger.', r.trigger)}`,
        ),
        h('p', {}, reasonText(r)),
      ),
    ),
    h('li', {}, h('a', { href: '/referrals' }, t('history.to_referrals'))),
  );
}

// --- observations --------------------------------------------------------------------------

function observationBody(form) {
  const body = {};
  if (form.acvpu.value) body.acvpu = form.acvpu.value;
  for (const name of ['sbp', 'dbp', 'temp']) {
    const field = form[name];
    if (field.value === '') continue;
    const value = Number(field.value);
    if (!field.checkValidity() || Number.isNaN(value)) {
      throw new Error(
        t('observe.out_of_range', { field: t(`observe.${name}`), min: field.min, max: field.max }),
      );
    }
    body[name] = value;
  }
  if (form.on_o2.value) body.on_o2 = form.on_o2.value === 'true';
  if (Object.keys(body).length === 0) throw new Error(t('observe.empty'));
  return body;
}

async function submitObservations(event) {
  event.preventDefault();
  const form = event.target;
  const error = $('#observe-error');
  error.hidden = true;
  let body;
  try {
    body = observationBody(form);
  } catch (problem) {
    error.textContent = problem.message;
    error.hidden = false;
    return;
  }
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await api(`/api/v1/residents/${residentId}/observations`, { method: 'POST', json: body });
    form.reset();
    notify(t('observe.saved'));
    await Promise.all([loadVitals(), loadTrend()]);
  } catch (problem) {
    error.textContent =
      problem instanceof ApiError && problem.status === 403
        ? t('observe.forbidden')
        : t('common.error', { detail: problem.message });
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

// --- loading -------------------------------------------------------------------------------

async function settle(promise) {
  try {
    return await promise;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

async function loadVitals() {
  const base = `/api/v1/residents/${residentId}`;
  [state.news2, state.latest] = await Promise.all([
    settle(api(`${base}/news2`)),
    settle(api(`${base}/latest`)),
  ]);
  renderNews2();
  renderLatest();
}

async function loadHistory() {
  const about = `resident=${residentId}&limit=50`;
  const alertsPath = referralId ? `${readPath}/alerts?limit=50` : `/api/v1/alerts?${about}`;
  const [alerts, referrals] = await Promise.all([
    settle(api(alertsPath)),
    referralId ? { items: [] } : settle(api(`/api/v1/referrals?${about}`)),
  ]);
  state.alerts = alerts instanceof Error ? alerts : alerts.items;
  state.referrals = referrals instanceof Error ? referrals : referrals.items;
  renderHistory();
}

// --- read through a referral ---------------------------------------------------------------

function renderReferralProfile() {
  const r = state.resident;
  put(
    $('#profile'),
    h('h1', {}, r.display_name),
    h('p', { class: 'muted', id: 'referral-view' }, t('record.referral_view', { id: referralId })),
  );
}

/** Only what the referral opens: the trends and the alerts, while it is open (else 403). */
async function referralMain() {
  for (const id of ['#record-grid', '#vitals-grid', '#observe-card', '#referral-history-card'])
    $(id).hidden = true;
  let referral;
  try {
    referral = await api(readPath);
  } catch (error) {
    $('#profile').replaceChildren(h('h1', {}, unavailable(error)));
    return;
  }
  state.resident = {
    display_name: referral.snapshot.patient.name,
    site_timezone: referral.timezone,
  };
  renderReferralProfile();
  renderToolbar();
  await Promise.all([loadTrend(), loadHistory()]);
  if (state.trendError instanceof ApiError && state.trendError.status === 403) {
    // Closed (or never theirs): nothing of the resident stays on the page.
    $('#resident').replaceChildren(
      h('section', { class: 'card', id: 'profile' }, h('h1', {}, t('common.forbidden'))),
    );
    return;
  }
  document.addEventListener(LANGUAGE_EVENT, renderAll);
}

function renderAll() {
  mountHeader(null, state.me);
  if (referralId) {
    renderReferralProfile();
    renderChart();
    renderHistory();
    return;
  }
  renderProfile();
  renderRecord(state.resident);
  renderGoals(residentId, state.me, state.resident.site_timezone);
  renderHomeCare();
  renderNews2();
  renderLatest();
  renderToolbar();
  renderChart();
  renderHistory();
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader(null, state.me);
  if (referralId) {
    await referralMain();
    return;
  }
  try {
    state.resident = await api(`/api/v1/residents/${residentId}`);
  } catch (error) {
    $('#profile').replaceChildren(h('h1', {}, unavailable(error)));
    return;
  }
  renderProfile();
  renderRecord(state.resident);
  renderToolbar();
  $('#observe').addEventListener('submit', submitObservations);
  await Promise.all([
    loadVitals(),
    loadTrend(),
    loadHistory(),
    loadHomeCare(residentId),
    loadGoals(residentId).then(() =>
      renderGoals(residentId, state.me, state.resident.site_timezone),
    ),
  ]);
  // A visit's observations are charted: show them at once.
  await mountVisits(residentId, state.me, state.resident, () => Promise.all([loadVitals(), loadTrend()]));
  setInterval(() => {
    loadVitals();
    loadHistory();
    if (state.range === '1h' || state.range === '24h') loadTrend();
  }, REFRESH_MS);
  let width = $('#chart').clientWidth;
  new ResizeObserver(() => {
    if ($('#chart').clientWidth !== width) {
      width = $('#chart').clientWidth;
      renderChart();
    }
  }).observe($('#chart'));
  document.addEventListener(LANGUAGE_EVENT, renderAll);
}

main().catch((error) => {
  // A 401 has already sent the browser to the login page.
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
