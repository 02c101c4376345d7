// The hospital side sends a resident back (a downward referral) with a discharge summary:
// diagnoses (ICD-10), medication changes, follow-up plan. Offered to a partner hospital's
// accounts; the residents offered are those of the referrals it has received.
import { h } from './dom.js';
import { t } from './i18n.js';
import { apiFetch, detailOf } from './session.js';

const CHANGES = ['start', 'stop', 'change', 'continue'];

export function mayReturn(me) {
  return Boolean(me.hospital_id);
}

/** "I63.9 脑梗死" per line -> [{code, display}]; a line without a name is refused. */
export function parseDiagnoses(text) {
  const found = [];
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [code, ...rest] = line.split(/\s+/);
    found.push({ code, display: rest.join(' ') || code });
  }
  return found;
}

function medicationRow() {
  return h(
    'div',
    { class: 'medication-row' },
    h(
      'select',
      { name: 'change', 'aria-label': t('returns.change') },
      CHANGES.map((c) => h('option', { value: c }, t(`returns.change.${c}`))),
    ),
    h('input', { name: 'medication', placeholder: t('returns.medication'), maxlength: 500 }),
    h('input', { name: 'detail', placeholder: t('returns.detail'), maxlength: 500 }),
  );
}

/** The form, in a collapsed <details>; `residents`: [[id, label]]; `onCreated(answer)`. */
export function returnForm(residents, onCreated) {
  const resident = h(
    'select',
    { id: 'ret-resident', name: 'resident', required: true },
    h('option', { value: '' }, t('referrals.start_pick')),
    residents.map(([id, name]) => h('option', { value: id }, name)),
  );
  const diagnoses = h('textarea', {
    id: 'ret-diagnoses',
    rows: 2,
    placeholder: t('returns.diagnoses_hint'),
  });
  const medications = h('div', { id: 'ret-medications' }, medicationRow());
  const more = h(
    'button',
    { type: 'button', onclick: () => medications.append(medicationRow()) },
    t('returns.add_medication'),
  );
  const followUp = h('textarea', { id: 'ret-follow-up', rows: 2, maxlength: 2000 });
  const days = h('input', { id: 'ret-days', type: 'number', min: 1, max: 30, value: 7 });
  const message = h('p', { class: 'card-message', role: 'status' });
  const fail = (text) => {
    message.textContent = text;
    message.classList.add('error');
  };
  for (const field of [resident, diagnoses, followUp]) {
    field.addEventListener('input', () => (message.textContent = ''));
  }
  const submit = async (event) => {
    event.preventDefault();
    message.textContent = '';
    message.classList.remove('error');
    if (!resident.value) return fail(t('referrals.start_need_resident'));
    const medicationChanges = [...medications.querySelectorAll('.medication-row')]
      .map((row) => ({
        change: row.querySelector('[name=change]').value,
        medication: row.querySelector('[name=medication]').value.trim(),
        detail: row.querySelector('[name=detail]').value.trim(),
      }))
      .filter((m) => m.medication);
    const body = {
      resident_id: Number(resident.value),
      discharge: {
        diagnoses: parseDiagnoses(diagnoses.value),
        medication_changes: medicationChanges,
        follow_up: followUp.value.trim(),
      },
      watch_days: Number(days.value) || null,
    };
    const response = await apiFetch('/api/v1/referrals/returns', { method: 'POST', json: body });
    if (!response.ok) return fail(t('referrals.refused', { detail: await detailOf(response) }));
    form.closest('details').open = false;
    onCreated(await response.json());
  };
  const form = h(
    'form',
    { id: 'return-referral', class: 'start-form', novalidate: true, onsubmit: submit },
    h('label', {}, t('referrals.start_resident'), resident),
    h('label', {}, t('returns.diagnoses'), diagnoses),
    h('fieldset', {}, h('legend', {}, t('returns.medications')), medications, more),
    h('label', {}, t('returns.follow_up'), followUp),
    h('label', {}, t('returns.watch_days'), days),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('returns.submit')),
    ),
    message,
  );
  return h('details', { class: 'card start-referral' }, h('summary', {}, t('returns.start')), form);
}

/** A return's discharge summary, as the card shows it. */
export function dischargeBlock(discharge) {
  return h(
    'div',
    { class: 'discharge' },
    h('h4', {}, t('returns.summary')),
    h(
      'p',
      {},
      `${t('returns.diagnoses')}: `,
      discharge.diagnoses.map((d) => `${d.code} ${d.display}`).join(t('common.list_sep')),
    ),
    discharge.medication_changes.length
      ? h(
          'ul',
          { class: 'plain' },
          discharge.medication_changes.map((m) =>
            h(
              'li',
              {},
              `${t(`returns.change.${m.change}`)} · ${m.medication}`,
              m.detail ? ` · ${m.detail}` : '',
            ),
          ),
        )
      : null,
    h('p', {}, `${t('returns.follow_up')}: ${discharge.follow_up}`),
  );
}
