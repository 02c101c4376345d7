// The resident page's "visits and rounds" card: the resident's schedules (kind, interval, last
// done, next due in the site's time, overdue in red), a form to add one, and "record this
// visit" with optional observations (charted through the manual-observation path, so they
// count toward NEWS2). Mounted by resident.js; re-renders itself on a language change.
import { $, h, put } from './dom.js';
import { FormProblem, send } from './form_problems.js';
import { LANGUAGE_EVENT, t } from './i18n.js';
import { notify } from './layout.js';
import { kindText, lateText } from './rounds_panel.js';
import { api } from './session.js';
import { formatSiteTime, fromLocalInput } from './sitetime.js';

const WRITERS = ['admin', 'physician', 'nurse', 'caregiver', 'family_doctor'];
const KINDS = ['vitals_round', 'family_doctor_visit', 'nurse_visit'];
const OBSERVATIONS = ['sbp', 'dbp', 'temp', 'hr', 'spo2'];
const card = { rid: 0, me: null, resident: null, items: null, error: null, open: null, after: null };

const base = () => `/api/v1/residents/${card.rid}/visit-schedules`;
const canWrite = () => WRITERS.includes(card.me.role) && !card.me.hospital_id;
const when = (iso) => formatSiteTime(iso, card.resident.site_timezone);

function intervalText(hours) {
  if (hours % 24 === 0) return t('visits.every_days', { n: hours / 24 });
  return t('visits.every_hours', { n: hours });
}

function field(name, control) {
  return h('label', { class: 'field' }, h('span', {}, t(`visits.field.${name}`)), control);
}

async function submit(event, path, body, done) {
  event.preventDefault();
  const form = event.target;
  const errors = form.querySelector('.form-errors');
  errors.textContent = '';
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await send(path, { json: body(form), fieldPrefix: 'visits.field.' });
    notify(t(done));
    card.open = null;
    await load();
  } catch (problem) {
    // A refusal in the reader's words; anything else (the network) as it came.
    errors.textContent = problem instanceof FormProblem ? problem.message : t('common.error', { detail: problem.message });
  } finally {
    button.disabled = false;
  }
}

function visitBody(form) {
  const observations = {};
  for (const name of OBSERVATIONS) {
    if (form[name].value !== '') observations[name] = Number(form[name].value);
  }
  const body = { note: form.note.value.trim() };
  if (Object.keys(observations).length) body.observations = observations;
  return body;
}

function visitForm(item) {
  const number = (name) => field(name, h('input', { name, type: 'number', inputmode: 'decimal', step: 'any' }));
  return h(
    'form',
    {
      class: 'stacked-form visit-form',
      novalidate: true,
      onsubmit: (event) => submit(event, `${base()}/${item.schedule_id}/visits`, visitBody, 'visits.recorded'),
    },
    OBSERVATIONS.map(number),
    field('note', h('input', { name: 'note', type: 'text', maxlength: 1000 })),
    h('p', { class: 'form-errors', role: 'alert' }),
    h('button', { type: 'submit', class: 'primary' }, t('visits.save_visit')),
  );
}

function scheduleRow(item) {
  const toggle = () => {
    card.open = card.open === item.schedule_id ? null : item.schedule_id;
    render();
  };
  return h(
    'li',
    { class: `visit-schedule${item.overdue ? ' overdue' : ''}`, dataset: { schedule: item.schedule_id, overdue: item.overdue } },
    h('strong', {}, item.label),
    ` · ${kindText(item.kind)} · ${intervalText(item.interval_hours)}`,
    item.active ? null : h('span', { class: 'badge' }, t('visits.inactive')),
    h(
      'div',
      { class: 'visit-times' },
      t('visits.last_done', { when: item.last_done_at ? when(item.last_done_at) : t('visits.never') }),
      ' · ',
      t('visits.next_due', { when: when(item.due_at) }),
      item.overdue ? h('span', { class: 'badge overdue' }, t('visits.overdue', { late: lateText(item.late_minutes) })) : null,
    ),
    canWrite() && item.active
      ? h('button', { type: 'button', class: 'quiet record-visit', onclick: toggle }, t('visits.record'))
      : null,
    card.open === item.schedule_id ? visitForm(item) : null,
  );
}

function scheduleBody(form) {
  return {
    kind: form.kind.value,
    label: form.label.value.trim(),
    interval_hours: form.interval_hours.value === '' ? null : Number(form.interval_hours.value),
    starts_at: form.starts_at.value ? fromLocalInput(form.starts_at.value, card.resident.site_timezone) : null,
  };
}

function addForm() {
  return h(
    'details',
    { class: 'add-schedule' },
    h('summary', {}, t('visits.add')),
    h(
      'form',
      {
        class: 'stacked-form schedule-form',
        novalidate: true,
        onsubmit: (event) => submit(event, base(), scheduleBody, 'visits.added'),
      },
      field('kind', h('select', { name: 'kind' }, KINDS.map((k) => h('option', { value: k }, kindText(k))))),
      field('label', h('input', { name: 'label', type: 'text', maxlength: 200 })),
      field('interval_hours', h('input', { name: 'interval_hours', type: 'number', min: 1, step: 1, value: 12 })),
      field('starts_at', h('input', { name: 'starts_at', type: 'datetime-local' })),
      h('p', { class: 'form-errors', role: 'alert' }),
      h('button', { type: 'submit', class: 'primary' }, t('visits.add_save')),
    ),
  );
}

function render() {
  const box = $('#visits');
  if (!box || !card.resident) return;
  // Not this caller's (a partner hospital's physician reading a referral): no card at all.
  box.hidden = card.error?.status === 403;
  if (box.hidden) return;
  let list;
  if (card.error) list = h('p', { class: 'muted' }, t('common.unavailable'));
  else if (!card.items.length) list = h('p', { class: 'empty' }, t('visits.none'));
  else list = h('ol', { class: 'history visit-schedules' }, card.items.map(scheduleRow));
  put(box, h('h2', {}, t('visits.heading')), list, canWrite() ? addForm() : null);
  box.dataset.loaded = 'true';
}

async function load() {
  try {
    card.items = (await api(base())).items;
    card.error = null;
  } catch (error) {
    if (error.status === 401) return;
    card.error = error;
  }
  render();
  if (card.after) await card.after();
}

/** Show the card for the resident; `after()` runs after each load (the page's vitals). */
export function mountVisits(residentId, me, resident, after = null) {
  Object.assign(card, { rid: residentId, me, resident, after: null });
  document.addEventListener(LANGUAGE_EVENT, render);
  return load().then(() => {
    card.after = after;
  });
}
