// The alert board of a unit (the central station): one card per incident, unacknowledged
// first, then by severity and age, live from the alert stream, with one-tap acknowledge and
// resolve; filters kept in the address; a room/bed view of every resident; an alarm that
// keeps sounding while a high or critical incident is unacknowledged (alarm.js); who is on
// shift and which devices are silent.
import { Alarm } from './alarm.js';
import { enableSound, soundOn } from './audio.js';
import { $, h, put } from './dom.js';
import { deviceWhen } from './devstate.js';
import { formatAge, formatTime, valueKey } from './format.js';
import { LANGUAGE_EVENT, has, initI18n, label, labels, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { accessToken, api, apiFetch, detailOf, refreshTokens, requireSession } from './session.js';
import { follow } from './sse.js';
import {
  FAMILIES,
  LOUD,
  SEVERITIES,
  compareIncidents,
  filtersFrom,
  incidentsOf,
  passes,
} from './incidents.js';
import { loadFlags, renderBanner, residentChips } from './isolation.js';
import { mountRounds } from './rounds_panel.js';
import { wardTiles } from './ward_grid.js';
import { roomText } from './wardview.js';

// The alert lifecycle only moves forward: a view of an alert with a lower rank than the one
// shown is older (a list fetched before a change the stream already delivered).
const STATUS_RANK = { open: 0, notified: 1, escalated: 2, acknowledged: 3, resolved: 4 };
const OUTCOMES = ['actionable', 'false_alarm', 'already_attended'];
const POLL_MS = 15_000; // only while the live stream is down
const SIDE_MS = 60_000;
const AGE_MS = 30_000;
const LOW_BATTERY = 20;

const state = {
  me: null,
  site: null,
  unit: null,
  alerts: new Map(),
  touched: new Map(), // alert id -> the update counter when it last changed
  updates: 0,
  resolved: new Set(),
  loaded: false,
  residents: new Map(),
  residentsLoaded: false,
  news2: [],
  news2Error: null,
  watches: new Map(), // resident id -> their post-discharge watch period (a return's)
  onDuty: null,
  sideError: null,
  live: 'connecting',
  cards: new Map(),
  fresh: new Set(),
  busy: new Set(),
  poller: null,
  filters: { severity: [], family: [] },
  view: 'list',
  alarm: null,
};

function inPlace(alert) {
  return (
    (!state.site || alert.site_id === state.site) && (!state.unit || alert.unit_id === state.unit)
  );
}

function placeQuery(extra = {}) {
  const params = new URLSearchParams(extra);
  if (state.site) params.set('site', state.site);
  if (state.unit) params.set('unit', state.unit);
  return params.toString();
}

// --- the alerts ----------------------------------------------------------------------------

/** Take in a view of an alert (from the list, the stream or an action's answer). */
function apply(alert, { live = false } = {}) {
  const id = alert.alert_id;
  if (!inPlace(alert) || state.resolved.has(id)) return;
  const known = state.alerts.get(id);
  if (known && STATUS_RANK[alert.status] < STATUS_RANK[known.status]) return;
  state.touched.set(id, ++state.updates);
  if (alert.resolved_at) {
    state.resolved.add(id);
    state.alerts.delete(id);
    state.fresh.delete(id);
    return;
  }
  state.alerts.set(id, alert);
  if (alert.status === 'acknowledged') state.fresh.delete(id);
  if (live && state.loaded && !known) state.fresh.add(id);
}

async function loadAlerts() {
  const before = state.updates;
  try {
    const page = await api(`/api/v1/alerts?${placeQuery({ active: 'true', limit: '500' })}`);
    const listed = new Set(page.items.map((alert) => alert.alert_id));
    for (const alert of page.items) apply(alert);
    // Gone from the list and not changed by the stream since the request: resolved.
    for (const id of [...state.alerts.keys()]) {
      if (!listed.has(id) && (state.touched.get(id) ?? 0) <= before) state.alerts.delete(id);
    }
    state.loaded = true;
    render();
  } catch (error) {
    if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
  }
}

async function reloadOne(id) {
  try {
    apply(await api(`/api/v1/alerts/${id}`));
  } catch (error) {
    if (error.status === 404 || error.status === 403) state.alerts.delete(id);
  }
  render();
}

// --- acting on an incident -----------------------------------------------------------------

function cardMessage(id, text, error = false) {
  const box = state.cards.get(id)?.querySelector('.card-message');
  if (!box) return;
  box.textContent = text;
  box.classList.toggle('error', error);
}

/** POST an action on one alert; true if applied. The answer's acknowledgement is the
 * incident's: its other alerts take it too. */
async function post(incidentId, alertId, action, body) {
  const response = await apiFetch(`/api/v1/alerts/${alertId}/${action}`, {
    method: 'POST',
    json: body,
  });
  if (response.status === 200) {
    const answer = await response.json();
    apply(answer);
    for (const other of [...state.alerts.values()]) {
      if (other.incident_id !== incidentId || other.alert_id === alertId) continue;
      if (answer.status === 'acknowledged' && other.status !== 'acknowledged') {
        apply({
          ...other,
          status: 'acknowledged',
          acknowledged_at: answer.acknowledged_at,
          acknowledged_by: answer.acknowledged_by,
          acknowledged_via: answer.acknowledged_via,
        });
      }
    }
    state.fresh.delete(alertId);
    return true;
  }
  if (response.status === 202) cardMessage(incidentId, t('alert.queued'));
  else {
    cardMessage(incidentId, t('alert.refused', { detail: await detailOf(response) }), true);
    if (response.status === 409 || response.status === 404) await reloadOne(alertId);
  }
  return false;
}

/** Acknowledge the incident (through any of its alerts), or resolve each of its alerts. */
async function act(incident, action, body) {
  const id = incident.id;
  state.busy.add(id);
  cardMessage(id, '');
  render();
  try {
    // One acknowledgement is the incident's; a resolution is each alert's.
    const waiting = incident.alerts.find((a) => a.status !== 'acknowledged') || incident.lead;
    const targets = action === 'ack' ? [waiting] : incident.alerts;
    for (const alert of targets) {
      if (!(await post(id, alert.alert_id, action, body))) break;
    }
  } catch (error) {
    if (error.status !== 401) cardMessage(id, t('common.offline'), true);
  } finally {
    state.busy.delete(id);
    render();
  }
}

function toggleResolve(id) {
  const card = state.cards.get(id);
  const panel = card.querySelector('.resolve-panel');
  panel.hidden = !panel.hidden;
  card.querySelector('button.resolve').setAttribute('aria-expanded', String(!panel.hidden));
  if (!panel.hidden) panel.querySelector('textarea').focus();
}

function incidentNow(id) {
  return incidentsOf([...state.alerts.values()]).find((i) => i.id === id);
}

function onAction(id, action, outcome) {
  const incident = incidentNow(id);
  if (!incident) return undefined;
  if (action === 'ack') return act(incident, 'ack');
  const note = state.cards.get(id).querySelector('textarea').value.trim();
  return act(incident, 'resolve', { outcome, note: note || null });
}

// --- drawing -------------------------------------------------------------------------------

function createCard(id) {
  return h(
    'li',
    { class: 'alert', dataset: { incidentId: id } },
    h('div', { class: 'summary' }),
    h('ol', { class: 'timeline' }),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', class: 'ack primary', onclick: () => onAction(id, 'ack') }),
      h('button', {
        type: 'button',
        class: 'resolve',
        'aria-expanded': 'false',
        onclick: () => toggleResolve(id),
      }),
    ),
    h(
      'div',
      { class: 'resolve-panel', hidden: true },
      h(
        'label',
        {},
        h('span', { class: 'note-label' }),
        h('textarea', { rows: 2, maxlength: 2000 }),
      ),
      h(
        'div',
        { class: 'outcomes' },
        OUTCOMES.map((outcome) =>
          h('button', {
            type: 'button',
            class: `outcome ${outcome}`,
            dataset: { outcome },
            onclick: () => onAction(id, 'resolve', outcome),
          }),
        ),
      ),
    ),
    h('p', { class: 'card-message', role: 'status' }),
  );
}

function residentLine(alert) {
  if (alert.resident_id === null)
    return h(
      'p',
      { class: 'who' },
      alert.unit_id
        ? t('board.unit_alert', { unit: alert.unit_id })
        : t('board.site_alert', { site: alert.site_id }),
    );
  const resident = state.residents.get(alert.resident_id);
  const name = resident
    ? resident.display_name
    : t('resident.fallback_name', { id: alert.resident_id });
  return h(
    'p',
    { class: 'who' },
    h('a', { href: `/residents/${alert.resident_id}` }, name),
    resident?.room ? ` · ${roomText(resident.room)}` : '',
    resident?.bed ? ` · ${t('resident.bed', { bed: resident.bed })}` : '',
    // Goals of care: the night nurse knows no transfer is suggested (the alert still pages).
    resident?.comfort_care
      ? [' ', h('span', { class: 'badge comfort' }, t('record.board_comfort'))]
      : '',
  );
}

/** The figures behind an alert that the catalogue names (the rules also store ids, times and
 * NEWS2 sub-scores, which would read as measurements here). */
function valuesLine(values, ruleId) {
  // An incomplete NEWS2's total is a lower bound: "≥", and what is not known.
  const lowerBound = typeof values?.missing === 'string' && values.missing !== '';
  const parts = Object.entries(values || {})
    .filter(([key, value]) => typeof value === 'number' && has(`value.${key}`))
    .map(([key, value]) =>
      t(lowerBound && key === 'total' ? 'value.total_at_least' : valueKey(key, ruleId), {
        value: Math.round(value * 10) / 10,
      }),
    );
  if (lowerBound) {
    parts.push(t('value.missing', { list: labels('param.', values.missing.split(',')) }));
  }
  return parts.length ? h('p', { class: 'values' }, parts.join(' · ')) : null;
}

/** Which device a device alert is about: its kind (the alert service looks it up) and id. */
function deviceLine(values) {
  const id = values?.device_id;
  if (typeof id !== 'string') return null;
  const kind = label('device_kind.', values.device_kind || 'unknown');
  return h('p', { class: 'device-of' }, t('alert.device', { kind, id }));
}

/** One step of the incident: when it began, what, its figures. */
function timelineEntry(alert) {
  return h(
    'li',
    {
      class: `step sev-${alert.severity}`,
      dataset: { alertId: alert.alert_id, rule: alert.rule_id },
    },
    h('time', { datetime: alert.first_ts }, formatTime(alert.first_ts)),
    ' ',
    h('span', { class: 'step-rule', title: alert.title }, label('rule.', alert.rule_id)),
    alert.count > 1 ? ` · ${t('alert.repeats', { count: alert.count })}` : '',
    deviceLine(alert.values),
    valuesLine(alert.values, alert.rule_id),
  );
}

function updateCard(card, incident) {
  const { id, top, lead } = incident;
  const acked = !incident.unacked;
  const fresh = incident.alerts.some((a) => state.fresh.has(a.alert_id)) ? ' fresh' : '';
  card.className = `alert sev-${incident.severity} status-${incident.status}${fresh}`;
  card.dataset.severity = incident.severity;
  card.dataset.status = incident.status;
  card.dataset.family = incident.family;
  card.dataset.alerts = String(incident.alerts.length);
  card.dataset.alertId = String(lead.alert_id);
  // The level the alert service's escalation reached (the incident's, on each of its alerts).
  const level = Math.max(...incident.alerts.map((a) => a.escalation_step || 0));
  const escalatedNow = incident.status === 'escalated' && level > 0;
  const meta = [];
  // Once acknowledged, how far it went. Not while merely notified: a policy's `start_step`
  // pages a later level first, which is not an escalation.
  if (acked && level > 1) meta.push(t('alert.escalated_to', { level }));
  const ackedBy = incident.alerts.find((a) => a.acknowledged_at);
  if (acked && ackedBy) {
    meta.push(
      t('alert.acked_by', {
        who: ackedBy.acknowledged_by || '?',
        age: formatAge(ackedBy.acknowledged_at),
      }),
    );
  }
  put(
    card.querySelector('.summary'),
    h(
      'div',
      { class: 'alert-head' },
      h('span', { class: 'badge severity' }, t(`severity.${incident.severity}`)),
      h('span', { class: 'badge family' }, t(`family.${incident.family}`)),
      incident.alerts.some((a) => a.values?.drill) ? h('span', { class: 'badge drill' }, t('board.drill')) : null,
      h(
        'span',
        { class: 'status-label' },
        escalatedNow ? t('alert.escalated_to', { level }) : t(`status.${incident.status}`),
      ),
      h(
        'time',
        { datetime: incident.opened_at, title: formatTime(incident.opened_at) },
        formatAge(incident.opened_at),
      ),
    ),
    h('h3', { class: 'alert-title', title: top.title }, label('rule.', top.rule_id)),
    residentLine(lead),
    meta.length ? h('p', { class: 'meta' }, meta.join(' · ')) : null,
  );
  put(card.querySelector('.timeline'), incident.alerts.map(timelineEntry));
  const busy = state.busy.has(id);
  const ack = card.querySelector('button.ack');
  ack.textContent = t('alert.ack');
  ack.hidden = acked;
  ack.disabled = busy;
  const resolveButton = card.querySelector('button.resolve');
  resolveButton.textContent = t('alert.resolve');
  resolveButton.disabled = busy;
  card.querySelector('.note-label').textContent = t('alert.note');
  for (const button of card.querySelectorAll('button.outcome')) {
    button.textContent = t(`outcome.${button.dataset.outcome}`);
    button.disabled = busy;
  }
}

function renderList(incidents) {
  const list = $('#alerts');
  const shown = incidents.filter((i) => passes(i, state.filters));
  const keep = new Set(shown.map((i) => i.id));
  for (const [id, card] of state.cards) {
    if (!keep.has(id)) {
      card.remove();
      state.cards.delete(id);
    }
  }
  shown.forEach((incident, index) => {
    let card = state.cards.get(incident.id);
    if (!card) {
      card = createCard(incident.id);
      state.cards.set(incident.id, card);
    }
    updateCard(card, incident);
    // Move only what is out of place: moving a card would drop the focus of a note being typed.
    if (list.children[index] !== card) list.insertBefore(card, list.children[index] || null);
  });
  const hidden = incidents.length - shown.length;
  $('#no-alerts').hidden = shown.length > 0 || !state.loaded;
  $('#alert-count').textContent = shown.length ? `(${shown.length})` : '';
  const note = $('#filtered');
  note.hidden = hidden === 0;
  note.textContent = hidden ? t('board.filtered', { count: hidden }) : '';
  list.dataset.loaded = String(state.loaded);
}

function renderGrid(incidents) {
  const grid = $('#ward');
  const residents = [...state.residents.values()].filter(
    (r) => (!state.site || r.site_id === state.site) && (!state.unit || r.unit_id === state.unit),
  );
  put(grid, wardTiles(residents, incidents, state.news2, deviceProblem, state.flags || []));
  for (const tile of grid.querySelectorAll('li[data-resident-id]')) {
    const chips = residentChips(state.flags || [], Number(tile.dataset.residentId));
    if (chips.length) tile.querySelector('.tile-badges').prepend(...chips);
  }
  grid.dataset.loaded = String(state.residentsLoaded === true);
  $('#no-residents').hidden = residents.length > 0 || !state.residentsLoaded;
}

function render() {
  const incidents = incidentsOf([...state.alerts.values()]).sort(compareIncidents);
  renderList(incidents);
  renderGrid(incidents);
  const loud = incidents.filter((i) => i.unacked && LOUD.has(i.severity));
  state.alarm.update(loud);
  const banner = $('#alarm-banner');
  banner.hidden = loud.length === 0;
  banner.textContent = loud.length ? t('board.alarm', { count: loud.length }) : '';
}

function renderLive() {
  const badge = $('#live');
  badge.dataset.state = state.live;
  badge.textContent = t(`live.${state.live}`);
  badge.title = state.live === 'live' ? '' : t('live.polling');
  const sound = $('#sound');
  const on = soundOn();
  sound.dataset.on = String(on);
  sound.textContent = t(on ? 'sound.on' : 'sound.enable');
}

function renderPlace() {
  const heading = $('#place');
  if (state.site && state.unit)
    heading.textContent = t('board.place', { site: state.site, unit: state.unit });
  else if (state.site) heading.textContent = t('board.place_site', { site: state.site });
  else heading.textContent = t('board.place_all');
  const form = $('#place-form');
  form.site.value = state.site || '';
  form.unit.value = state.unit || '';
}

// --- who is on shift, which devices are silent ---------------------------------------------

function deviceProblem(device) {
  if (device.online === false) return 'offline';
  if (device.online === null) return 'silent';
  if (device.kind === 'wearable' && device.worn === false) return 'off_wrist';
  if (device.battery !== null && device.battery <= LOW_BATTERY) return 'battery_low';
  return null;
}

async function loadSide() {
  const [residents, duty, news2, flags, watches] = await Promise.allSettled([
    api(`/api/v1/residents?${placeQuery({ limit: '500' })}`),
    state.site ? api(`/api/v1/care-team/on-duty?${placeQuery()}`) : Promise.resolve(null),
    api(`/api/v1/news2?${placeQuery({ limit: '500' })}`),
    loadFlags(placeQuery()),
    api(`/api/v1/watch-periods?${placeQuery()}`),
  ]);
  state.flags = flags.status === 'fulfilled' ? flags.value : [];
  renderBanner($('#isolation-banner'), state.flags);
  if (watches.status === 'fulfilled') {
    state.watches = new Map(watches.value.map((w) => [w.resident_id, w]));
  }
  if (residents.status === 'fulfilled') {
    state.residents = new Map(residents.value.items.map((r) => [r.resident_id, r]));
    state.residentsLoaded = true;
  }
  if (news2.status === 'fulfilled') state.news2 = news2.value.items;
  state.news2Error = news2.status === 'rejected' ? news2.reason : null;
  state.onDuty = duty.status === 'fulfilled' ? duty.value : undefined;
  state.sideError = residents.status === 'rejected' ? residents.reason : null;
  renderSide();
  render();
}

let sideTimer = null;

/** Reload the side panels soon (a device alert, an unknown resident): once for a burst. */
function reloadSideSoon() {
  clearTimeout(sideTimer);
  sideTimer = setTimeout(loadSide, 500);
}

const BAND_RANK = { low: 0, low_medium: 1, medium: 2, high: 3 };

/** Residents whose observations are due or overdue (RCP 2017 frequency for their risk), the
 * riskiest first, each with the NEWS2 band their present parameters prove, in its colour. */
function renderObservations() {
  const box = $('#observations');
  if (state.news2Error) {
    box.replaceChildren(h('li', { class: 'muted' }, t('common.unavailable')));
    return;
  }
  const rank = (n) => BAND_RANK[n.band || n.proven_band] ?? -1;
  const waiting = state.news2
    .filter((n) => n.observations.status !== 'ok')
    .sort(
      (a, b) =>
        rank(b) - rank(a) ||
        Number(b.observations.status === 'overdue') - Number(a.observations.status === 'overdue'),
    );
  const rows = waiting.map((n) => {
    const resident = state.residents.get(n.resident_id);
    const name = resident
      ? resident.display_name
      : t('resident.fallback_name', { id: n.resident_id });
    const band = n.band || n.proven_band || 'unknown';
    const score = n.complete ? String(n.total) : `≥ ${n.proven_total}`;
    let bandLabel = t('news2.incomplete');
    if (n.band) bandLabel = t(`band.${n.band}`);
    else if (n.proven_band) bandLabel = t('news2.at_least', { band: t(`band.${n.proven_band}`) });
    const list = labels('param.', n.observations.parameters);
    const status = n.observations.status;
    return h(
      'li',
      {
        class: `observation obs-${status} band-${band}`,
        dataset: { residentId: n.resident_id, status, band },
      },
      h('a', { href: `/residents/${n.resident_id}` }, name),
      resident?.room ? ` · ${roomText(resident.room)}` : '',
      h('br'),
      state.watches.has(n.resident_id) ? watchBadge(state.watches.get(n.resident_id)) : '',
      h('span', { class: 'score news2-chip' }, score),
      ` ${bandLabel} `,
      h(
        'span',
        { class: 'badge' },
        t(status === 'overdue' ? 'news2.overdue' : 'news2.due_now', { list }),
      ),
    );
  });
  box.replaceChildren(
    ...(rows.length ? rows : [h('li', { class: 'muted' }, t('board.observations_none'))]),
  );
}

/** The watch's badge: "出院观察期 · 至 12月14日 08:00", from the catalogue. */
function watchBadge(watch) {
  return h(
    'span',
    { class: 'badge watch', dataset: { watchUntil: watch.ends_at } },
    t('board.watch_badge', { until: formatTime(watch.ends_at) }),
  );
}

/** Residents back from hospital in their post-discharge watch period (tighter rules). */
function renderWatches() {
  const box = $('#watches');
  const rows = [...state.watches.values()].map((w) => {
    const resident = state.residents.get(w.resident_id);
    const name = resident
      ? resident.display_name
      : t('resident.fallback_name', { id: w.resident_id });
    return h(
      'li',
      { class: 'watch-row', dataset: { residentId: w.resident_id } },
      h('a', { href: `/residents/${w.resident_id}` }, name),
      resident?.room ? ` · ${roomText(resident.room)}` : '',
      ' ',
      watchBadge(w),
    );
  });
  box.replaceChildren(
    ...(rows.length ? rows : [h('li', { class: 'muted' }, t('board.watch_none'))]),
  );
}

function renderSide() {
  renderObservations();
  renderWatches();
  const duty = $('#on-duty');
  if (state.onDuty === null)
    duty.replaceChildren(h('li', { class: 'muted' }, t('board.choose_unit')));
  else if (state.onDuty === undefined)
    duty.replaceChildren(h('li', { class: 'muted' }, t('common.unavailable')));
  else if (state.onDuty.length === 0)
    duty.replaceChildren(h('li', { class: 'warn' }, t('board.nobody_on_shift')));
  else {
    duty.replaceChildren(
      ...state.onDuty.map((person) =>
        h(
          'li',
          { class: 'person' },
          h('strong', {}, person.name),
          ` · ${label('role.', person.role)}`,
        ),
      ),
    );
  }
  const devices = $('#devices');
  if (state.sideError) {
    devices.replaceChildren(h('li', { class: 'muted' }, t('common.unavailable')));
    return;
  }
  const rows = [];
  for (const resident of state.residents.values()) {
    for (const device of resident.devices || []) {
      const problem = deviceProblem(device);
      if (!problem) continue;
      rows.push(
        h(
          'li',
          { class: `device ${problem}`, dataset: { deviceId: device.device_id } },
          h('a', { href: `/residents/${resident.resident_id}` }, resident.display_name),
          resident.room ? ` · ${roomText(resident.room)}` : '',
          h('br'),
          h('span', { class: 'badge' }, t(`device.${problem}`)),
          ` ${label('device_kind.', device.kind)}`,
          deviceWhen(device) ? ` · ${deviceWhen(device)}` : '',
        ),
      );
    }
  }
  devices.replaceChildren(
    ...(rows.length ? rows : [h('li', { class: 'muted' }, t('board.devices_ok'))]),
  );
}

// --- live updates --------------------------------------------------------------------------

function onEvent(event) {
  if (event.type !== 'alert') return;
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  const alert = data.alert;
  if (!alert) return;
  apply(alert, { live: true });
  render();
  if (
    alert.rule_id.startsWith('device.') ||
    (alert.resident_id && !state.residents.has(alert.resident_id))
  ) {
    reloadSideSoon();
  }
}

function onState(next) {
  const was = state.live;
  state.live = next;
  renderLive();
  // After a gap the server replays what was missed from Last-Event-ID; a fresh list also
  // covers a server that could not.
  if (next === 'live' && was !== 'connecting' && was !== 'live') loadAlerts();
  if (next === 'live') {
    clearInterval(state.poller);
    state.poller = null;
  } else if (!state.poller) {
    state.poller = setInterval(loadAlerts, POLL_MS);
  }
}

function startStream() {
  follow('/api/v1/alerts/stream', {
    token: accessToken,
    refresh: refreshTokens,
    onEvent,
    onState,
    signal: new AbortController().signal,
  });
}

// --- filters, the view, the site's alarm setting ------------------------------------------

/** Keep the filters and the view in the address (a board reopened or shared shows the same). */
function saveAddress() {
  const params = new URLSearchParams(location.search);
  for (const [name, values] of Object.entries(state.filters)) {
    if (values.length) params.set(name, values.join(','));
    else params.delete(name);
  }
  if (state.view === 'grid') params.set('view', 'grid');
  else params.delete('view');
  const query = params.toString();
  history.replaceState(null, '', query ? `?${query}` : location.pathname);
}

function chip(kind, value, text) {
  const on = state.filters[kind].includes(value);
  return h(
    'button',
    {
      type: 'button',
      class: `chip ${kind}-${value}`,
      'aria-pressed': String(on),
      dataset: { filter: kind, value },
      onclick: () => {
        const list = state.filters[kind];
        state.filters[kind] = on ? list.filter((v) => v !== value) : [...list, value];
        saveAddress();
        renderFilters();
        render();
      },
    },
    text,
  );
}

function unitChoices() {
  // A user of one unit has no other to choose.
  if (state.me.unit_ids.length === 1) return state.me.unit_ids;
  const units = new Set(state.me.unit_ids);
  for (const r of state.residents.values()) if (r.site_id === state.site) units.add(r.unit_id);
  if (state.unit) units.add(state.unit);
  return [...units].sort();
}

function renderFilters() {
  const unit = h(
    'select',
    {
      id: 'unit-filter',
      'aria-label': t('board.unit'),
      disabled: !state.site || state.me.unit_ids.length === 1,
      onchange: (event) => {
        // Another unit is another place: the board loads it afresh, filters kept.
        const params = new URLSearchParams(location.search);
        params.set('site', state.site);
        params.set('unit', event.target.value);
        location.assign(`?${params}`);
      },
    },
    state.me.unit_ids.length === 1 ? null : h('option', { value: '' }, t('board.all_units')),
    unitChoices().map((u) => h('option', { value: u, selected: u === state.unit }, u)),
  );
  put(
    $('#filters'),
    h('label', { class: 'filter-unit' }, h('span', {}, t('board.unit')), ' ', unit),
    h(
      'span',
      { class: 'chips', role: 'group', 'aria-label': t('board.filter_severity') },
      SEVERITIES.map((v) => chip('severity', v, t(`severity.${v}`))),
    ),
    h(
      'span',
      { class: 'chips', role: 'group', 'aria-label': t('board.filter_family') },
      FAMILIES.map((v) => chip('family', v, t(`family.${v}`))),
    ),
  );
  for (const view of ['list', 'grid']) {
    const button = $(`#view-${view}`);
    button.textContent = t(`board.view_${view}`);
    button.setAttribute('aria-pressed', String(state.view === view));
  }
  $('#board').dataset.view = state.view;
}

function setView(view) {
  state.view = view;
  saveAddress();
  renderFilters();
}

async function loadAlarmSetting() {
  if (!state.site) return;
  try {
    const settings = await api(`/api/v1/care-team/board?${placeQuery()}`);
    state.alarm.setMode(settings.alarm);
  } catch {
    // The default (continuous) stays: a board that cannot read its setting still sounds.
  }
}

// --- start ---------------------------------------------------------------------------------

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  const params = new URLSearchParams(location.search);
  state.site = params.get('site') || state.me.site_id || null;
  // A user of one unit sees that unit; a user of several sees all of them ("unit=" says all).
  const unit = params.get('unit');
  const own = state.me.unit_ids.length === 1 ? state.me.unit_ids[0] : null;
  state.unit = unit !== null ? unit || null : own;
  state.filters = filtersFrom(params);
  state.view = params.get('view') === 'grid' ? 'grid' : 'list';
  state.alarm = new Alarm($('#board'));
  $('#choose-place').open = !state.site;
  mountHeader('board', state.me);
  renderPlace();
  renderLive();
  renderFilters();
  $('#view-list').addEventListener('click', () => setView('list'));
  $('#view-grid').addEventListener('click', () => setView('grid'));
  await loadAlarmSetting();
  startStream();
  await loadAlerts();
  loadSide().then(renderFilters);
  mountRounds($('#rounds'), () => state, () => state.residents);
  setInterval(loadSide, SIDE_MS);
  setInterval(render, AGE_MS);
  $('#sound').addEventListener('click', async () => {
    await enableSound();
    renderLive();
  });
  // Browsers allow audio after the first tap: any tap on the page turns the beep on.
  document.addEventListener('pointerdown', () => enableSound().then(renderLive), { once: true });
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('board', state.me);
    renderPlace();
    renderLive();
    renderFilters();
    renderSide();
    render();
  });
}

main().catch((error) => {
  // A 401 has already sent the browser to the login page.
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
