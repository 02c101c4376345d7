// The resident page's record card (档案) and goals of care. Identifiers are shown exactly as
// the API gives them: masked for roles that do not see them whole, and then said so. Goals of
// care: everyone reading the resident sees comfort care and its reason; a physician of the care
// side gets the form to set or clear it (a reason required) and the history.
import { $, h, put } from './dom.js';
import { label, t } from './i18n.js';
import { ApiError, api } from './session.js';
import { formatSiteTime } from './sitetime.js';

let goals = null; // GET .../goals-of-care, or an Error
let formMessage = null;

/** Today's date (YYYY-MM-DD) on the site's clock: a re-assessment is overdue from the day after. */
function today(zone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
}

function ageOn(birth, day) {
  const [by, bm, bd] = birth.split('-').map(Number);
  const [y, m, d] = day.split('-').map(Number);
  return y - by - (m < bm || (m === bm && d < bd) ? 1 : 0);
}

function identifier(value, masked) {
  if (!value) return t('record.none');
  return masked ? [value, h('span', { class: 'muted masked' }, ` ${t('record.masked')}`)] : value;
}

function abilityText(ability, zone) {
  if (!ability) return t('record.none');
  const overdue = ability.due_on < today(zone);
  return [
    label('ability.', ability.level),
    ` · ${t('record.assessed_on', { date: ability.assessed_on })}`,
    ` · ${t('record.due_on', { date: ability.due_on })}`,
    overdue ? h('span', { class: 'chip warn overdue' }, t('record.overdue')) : null,
  ];
}

function row(key, field, value) {
  return [h('dt', {}, t(`record.${key}`)), h('dd', { dataset: { field } }, value)];
}

function list(items, show) {
  if (!items || items.length === 0) return t('record.none');
  return h('ul', { class: 'plain' }, items.map((item) => h('li', {}, show(item))));
}

function labelsOf(items) {
  return items.join(t('common.list_sep'));
}

export function renderRecord(r) {
  const box = $('#record');
  if (!box || !r) return;
  const zone = r.site_timezone;
  const born = r.birth_date
    ? `${r.birth_date}（${t('record.age', { age: ageOn(r.birth_date, today(zone)) })}）`
    : t('record.none');
  put(
    box,
    h('h2', {}, t('record.heading')),
    h(
      'dl',
      { class: 'record-fields' },
      row('sex', 'sex', r.sex ? label('sex.', r.sex) : t('record.none')),
      row('birth_date', 'birth_date', born),
      row('national_id', 'national_id', identifier(r.national_id, r.identifiers_masked)),
      row('insurance_no', 'insurance_no', identifier(r.insurance_no, r.identifiers_masked)),
      row('phone', 'phone', r.phone || t('record.none')),
      row(
        'contacts',
        'emergency_contacts',
        list(r.emergency_contacts, (c) => `${c.name}（${c.relation}）${c.phone}`),
      ),
      row('diagnoses', 'diagnoses', list(r.diagnoses, (d) => `${d.code} ${d.display}`)),
      row('allergies', 'allergies', r.allergies?.length ? labelsOf(r.allergies) : t('record.none')),
      row('medications', 'medications', r.medications || t('record.none')),
      row('ability', 'ability', abilityText(r.ability, zone)),
      row('status', 'status', label('resident_status.', r.status)),
    ),
  );
}

// --- goals of care -------------------------------------------------------------------------

function isPhysician(me) {
  return me.role === 'physician' && !me.hospital_id;
}

export async function loadGoals(residentId) {
  try {
    goals = await api(`/api/v1/residents/${residentId}/goals-of-care`);
  } catch (error) {
    goals = error instanceof Error ? error : new Error(String(error));
  }
}

function goalsForm(residentId, me, zone) {
  if (!isPhysician(me)) return null;
  const on = goals.comfort_care;
  const reason = h('textarea', { id: 'goals-reason', name: 'reason', rows: '2', maxlength: '500' });
  const message = h('p', { id: 'goals-error', class: 'error', role: 'alert' }, formMessage || '');
  message.hidden = !formMessage;
  return h(
    'form',
    {
      id: 'goals-form',
      class: 'no-print',
      novalidate: true,
      onsubmit: (event) => saveGoals(event, residentId, me, zone, !on, reason),
    },
    h('label', {}, h('span', {}, t('record.goals_reason')), reason),
    message,
    h(
      'button',
      { type: 'submit', class: 'primary' },
      t(on ? 'record.goals_clear' : 'record.goals_set'),
    ),
  );
}

async function saveGoals(event, residentId, me, zone, comfortCare, reason) {
  event.preventDefault();
  const text = reason.value.trim();
  if (!text) {
    formMessage = t('record.goals_reason_required');
    renderGoals(residentId, me, zone);
    return;
  }
  try {
    goals = await api(`/api/v1/residents/${residentId}/goals-of-care`, {
      method: 'PUT',
      json: { comfort_care: comfortCare, reason: text },
    });
    formMessage = null;
  } catch (error) {
    formMessage =
      error instanceof ApiError && error.status === 403
        ? t('common.forbidden')
        : t('common.error', { detail: error.message });
  }
  renderGoals(residentId, me, zone);
}

function history(zone) {
  if (!goals.history.length) return null;
  return h(
    'ol',
    { id: 'goals-history', class: 'history' },
    goals.history.map((change) =>
      h(
        'li',
        {},
        `${formatSiteTime(change.set_at, zone)} · ${change.set_by} · `,
        t(change.comfort_care ? 'record.goals_was_set' : 'record.goals_was_cleared'),
        `：${change.reason}`,
      ),
    ),
  );
}

export function renderGoals(residentId, me, zone) {
  const box = $('#goals');
  if (!box || !goals) return;
  if (goals instanceof Error) {
    const text = t('common.unavailable');
    put(box, h('h2', {}, t('record.goals_heading')), h('p', { class: 'muted' }, text));
    return;
  }
  const current = goals.history.find((c) => c.comfort_care === goals.comfort_care);
  put(
    box,
    h('h2', {}, t('record.goals_heading')),
    goals.comfort_care
      ? h(
          'p',
          { id: 'goals-current' },
          h('span', { class: 'badge comfort' }, t('record.comfort_care')),
          current ? ` ${current.reason}` : '',
          h('span', { class: 'muted' }, ` · ${t('record.comfort_no_transfer')}`),
        )
      : h('p', { id: 'goals-current', class: 'muted' }, t('record.goals_full')),
    goalsForm(residentId, me, zone),
    isPhysician(me) ? history(zone) : null,
  );
}
