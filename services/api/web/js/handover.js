// The shift handover: what happened during the shift just ended (or a chosen window), in the
// site's time zone: alerts still open and those resolved with outcome and note, who
// acknowledged, referrals that moved, and who needs observations now (in round order: isolated
// residents last in their unit, a flagged unit's residents as one cohort). Printable.
import { $, h, put } from './dom.js';
import { LANGUAGE_EVENT, initI18n, label, t } from './i18n.js';
import {
  anyPrecaution,
  loadFlags,
  residentChips,
  roundOrder,
  unitHeading,
  withCohorts,
} from './isolation.js';
import { mountHeader, notify } from './layout.js';
import { api, requireSession } from './session.js';
import { formatAt, fromLocalInput, sameDay, toLocalInput } from './sitetime.js';
import { news2Chip, observationText, placeText, residentLink } from './wardview.js';

const SUMMARY = ['opened', 'resolved', 'still_open', 'referrals', 'observations_due'];
const state = { me: null, report: null, flags: [], error: null };
const ms = (iso) => new Date(iso).getTime();

function query() {
  return new URLSearchParams(location.search);
}

async function load() {
  const params = new URLSearchParams();
  // The user's own place by default, as on the board.
  const own = state.me.unit_ids.length === 1 ? state.me.unit_ids[0] : null;
  const place = { site: state.me.site_id, unit: own };
  for (const key of ['site', 'unit', 'from', 'to', 'at']) {
    const value = query().get(key) || place[key];
    if (value) params.set(key, value);
  }
  try {
    [state.report, state.flags] = await Promise.all([
      api(`/api/v1/handover?${params}`),
      loadFlags(params),
    ]);
    state.error = null;
  } catch (error) {
    state.error = error;
  }
  render();
}

/** Show another window: the URL says which (a link to it shows the same report). */
function go(changes) {
  const params = query();
  for (const key of ['from', 'to', 'at']) params.delete(key);
  for (const [key, value] of Object.entries(changes)) params.set(key, value);
  history.pushState(null, '', `${location.pathname}?${params}`);
  load();
}

function zone() {
  return state.report.window.timezone;
}

function when(iso) {
  // The day only when it is not the window's first day: a night shift crosses midnight.
  const date = !sameDay(iso, state.report.window.start, zone());
  return formatAt(iso, zone(), { date });
}

function who(id) {
  return (id && state.report.staff[id]) || id || '?';
}

/** Like the board: "已升级至第 N 级" instead of the status while escalated; once acknowledged or
 * resolved, how far it went as a line of its own (level 1 is the first page, not an escalation). */
function escalation(alert) {
  const level = alert.escalation_step || 0;
  const now = alert.status === 'escalated' && level > 0;
  const status = now ? t('alert.escalated_to', { level }) : t(`status.${alert.status}`);
  const line = !now && level > 1 ? h('p', { class: 'meta escalated' }, t('alert.escalated_to', { level })) : null;
  return { status, line };
}

function alertItem(alert) {
  const w = state.report.window;
  const escalated = escalation(alert);
  const resolvedLater = alert.resolved_at && ms(alert.resolved_at) > ms(w.until);
  const opened = ms(alert.opened_at) >= ms(w.start);
  const lines = [
    h(
      'div',
      { class: 'alert-head' },
      h('span', { class: 'badge severity' }, t(`severity.${alert.severity}`)),
      h('span', { class: 'status-label' }, escalated.status),
      h('span', { class: 'muted' }, t(opened ? 'handover.new' : 'handover.carried')),
    ),
    h('h3', { class: 'alert-title', title: alert.title }, label('rule.', alert.rule_id)),
    alert.resident_id === null
      ? h(
          'p',
          {},
          alert.unit_id
            ? t('board.unit_alert', { unit: alert.unit_id })
            : t('board.site_alert', { site: alert.site_id }),
        )
      : h(
          'p',
          { class: 'who' },
          residentLink(alert.resident_id, alert.display_name),
          alert.room || alert.bed ? ` · ${placeText(alert)}` : '',
        ),
    h('p', { class: 'meta' }, t('handover.opened', { when: when(alert.opened_at) })),
    h(
      'p',
      { class: 'meta acked' },
      alert.acknowledged_at
        ? t('handover.acked', {
            who: who(alert.acknowledged_by),
            when: when(alert.acknowledged_at),
          })
        : t('handover.not_acked'),
    ),
    escalated.line,
  ];
  if (alert.resolved_at) {
    lines.push(
      h(
        'p',
        { class: 'meta resolved-by' },
        t('handover.resolved_by', { who: who(alert.resolved_by), when: when(alert.resolved_at) }),
        resolvedLater ? ` · ${t('handover.resolved_later')}` : '',
      ),
      h(
        'p',
        { class: `outcome-line outcome-${alert.outcome}` },
        t('handover.outcome', { outcome: label('outcome.', alert.outcome) }),
      ),
    );
  }
  if (alert.note) lines.push(h('p', { class: 'note' }, t('handover.note', { note: alert.note })));
  return h(
    'li',
    {
      class: `handover-alert sev-${alert.severity}`,
      dataset: { alertId: alert.alert_id, outcome: alert.outcome || '', status: alert.status },
    },
    lines,
  );
}

function referralItem(referral) {
  return h(
    'li',
    { class: 'handover-referral', dataset: { referralId: referral.referral_id } },
    h(
      'div',
      { class: 'alert-head' },
      h('span', { class: `badge state state-${referral.state}` }, t(`state.${referral.state}`)),
      h('span', { class: 'muted' }, `#${referral.referral_id}`),
    ),
    h(
      'h3',
      {},
      residentLink(referral.resident_id, referral.display_name),
      ` → ${referral.hospital_name}`,
    ),
    h(
      'ol',
      { class: 'moves' },
      referral.moves.map((move) =>
        h(
          'li',
          {},
          move.from_state
            ? t('handover.move', {
                when: when(move.at),
                from: t(`state.${move.from_state}`),
                to: t(`state.${move.to_state}`),
              })
            : t('handover.move_opened', { when: when(move.at), to: t(`state.${move.to_state}`) }),
          move.staff_id ? t('handover.move_by', { who: who(move.staff_id) }) : '',
          move.note ? h('span', { class: 'note' }, ` ${move.note}`) : '',
        ),
      ),
    ),
  );
}

function dueItem(row) {
  const status = row.news2.observations.status;
  return h(
    'li',
    { class: `observation obs-${status}`, dataset: { residentId: row.resident_id, status } },
    residentLink(row.resident_id, row.display_name),
    placeText(row) ? ` · ${placeText(row)}` : '',
    ...residentChips(state.flags, row.resident_id),
    h('br'),
    news2Chip(row.news2),
    ' ',
    h('span', { class: 'badge' }, observationText(row.news2.observations, zone())),
  );
}

function fill(list, items, render, empty) {
  put(list, items.length ? items.map(render) : h('li', { class: 'muted empty-row' }, t(empty)));
  list.dataset.count = String(items.length);
}

function renderWindow() {
  const w = state.report.window;
  const range = {
    start: formatAt(w.start, zone()),
    end: formatAt(w.end, zone(), { date: !sameDay(w.start, w.end, zone()) }),
  };
  const place = state.report.site_id
    ? t(state.report.unit_id ? 'board.place' : 'board.place_site', {
        site: state.report.site_id,
        unit: state.report.unit_id,
      })
    : t('board.place_all');
  put(
    $('#window'),
    h('strong', {}, t(`handover.basis_${w.basis}`, range)),
    ms(w.until) < ms(w.end) ? ` ${t('handover.so_far', { until: formatAt(w.until, zone()) })}` : '',
    h('br'),
    h('span', { class: 'muted' }, `${place} · ${t('handover.zone', { zone: zone() })}`),
  );
  $('#window').dataset.basis = w.basis;
  const form = $('#window-form');
  form.from.value = toLocalInput(w.start, zone());
  form.to.value = toLocalInput(w.end, zone());
}

function render() {
  const main = $('#handover');
  if (state.error) {
    const detail = state.error.message;
    put($('#window'), h('span', { class: 'error' }, t('common.error', { detail })));
    return;
  }
  if (!state.report) return;
  renderWindow();
  const report = state.report;
  put(
    $('#summary'),
    SUMMARY.map((key) =>
      h(
        'li',
        { class: 'chip', dataset: { key } },
        t(`handover.summary_${key}`, { n: report.summary[key] }),
      ),
    ),
  );
  const open = report.alerts.filter((a) => !a.resolved_at);
  const resolved = report.alerts.filter((a) => a.resolved_at);
  fill($('#still-open'), open, alertItem, 'handover.none_open');
  fill($('#resolved'), resolved, alertItem, 'handover.none_resolved');
  fill($('#moved'), report.referrals, referralItem, 'handover.none_referrals');
  const due = roundOrder(report.observations, state.flags);
  const heading = (place) => unitHeading('li', state.flags, place);
  if (due.length) put($('#due'), withCohorts(due, state.flags, dueItem, heading));
  else fill($('#due'), due, dueItem, 'handover.none_due');
  $('#due').dataset.count = String(due.length);
  $('#round-note').hidden = !anyPrecaution(due, state.flags);
  $('#truncated').hidden = !report.alerts_truncated;
  main.dataset.loaded = 'true';
}

function chooseWindow(event) {
  event.preventDefault();
  const form = event.target;
  const from = form.from.value && fromLocalInput(form.from.value, zone());
  const to = form.to.value && fromLocalInput(form.to.value, zone());
  if (!from || !to || ms(to) <= ms(from)) {
    notify(t('handover.bad_window'), { error: true });
    return;
  }
  go({ from, to });
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('handover', state.me);
  $('#print').addEventListener('click', () => window.print());
  $('#earlier').addEventListener('click', () => {
    if (state.report) go({ at: state.report.window.start });
  });
  $('#latest').addEventListener('click', () => go({}));
  $('#window-form').addEventListener('submit', chooseWindow);
  window.addEventListener('popstate', load);
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('handover', state.me);
    render();
  });
  await load();
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
