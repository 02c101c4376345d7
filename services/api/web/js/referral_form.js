// Start a referral by hand: resident, kind, reason, partner (of a kind that takes it).
// Offered to the care side's nurses and physicians only, the roles the workflow lets request
// a referral.
import { h } from './dom.js';
import { t } from './i18n.js';
import { HOME_ROOM } from './wardview.js';
import { api, apiFetch, detailOf } from './session.js';

const MAY_REQUEST = new Set(['nurse', 'physician']);
// The kinds staff open (a return is the hospital's), the green channel first.
const KINDS = ['emergency', 'appointment', 'rehabilitation', 'hospice'];

export function mayStart(me) {
  return !me.hospital_id && MAY_REQUEST.has(me.role);
}

function residentLabel(resident) {
  const room = resident.room === HOME_ROOM ? t('resident.home') : resident.room;
  const place = [room, resident.bed].filter(Boolean).join('-');
  return place ? `${resident.display_name} · ${place}` : resident.display_name;
}

/** The form, in a collapsed <details>; `onCreated(referral)` gets the new referral. */
export async function startForm(residents, onCreated) {
  // The partners that take each kind, the preferred first (routing rules: the API's).
  const byKind = new Map(
    await Promise.all(
      KINDS.map(async (k) => [k, await api(`/api/v1/referrals/hospitals?kind=${k}`)]),
    ),
  );
  const kind = h(
    'select',
    { id: 'ref-kind', name: 'kind' },
    KINDS.map((k) => h('option', { value: k }, t(`kind.${k}`))),
  );
  const resident = h(
    'select',
    { id: 'ref-resident', name: 'resident', required: true },
    h('option', { value: '' }, t('referrals.start_pick')),
    residents.map((r) => h('option', { value: r.resident_id }, residentLabel(r))),
  );
  const hospital = h('select', { id: 'ref-hospital', name: 'hospital' });
  const reason = h('textarea', { id: 'ref-reason', name: 'reason', rows: 2, maxlength: 2000 });
  const message = h('p', { class: 'card-message', role: 'status' });
  const fillHospitals = () => {
    const chosen = residents.find((r) => String(r.resident_id) === resident.value);
    const hospitals = byKind.get(kind.value) ?? [];
    const fitting = hospitals.filter((x) => !chosen || x.sites.includes(chosen.site_id));
    hospital.replaceChildren(...fitting.map((x) => h('option', { value: x.id }, x.name)));
  };
  resident.addEventListener('change', fillHospitals);
  kind.addEventListener('change', fillHospitals);
  for (const field of [resident, reason]) {
    field.addEventListener('input', () => (message.textContent = ''));
  }
  fillHospitals();
  const fail = (text) => {
    message.textContent = text;
    message.classList.add('error');
  };
  const submit = async (event) => {
    event.preventDefault();
    message.textContent = '';
    message.classList.remove('error');
    if (!resident.value) return fail(t('referrals.start_need_resident'));
    if (!reason.value.trim()) return fail(t('referrals.start_need_reason'));
    const body = {
      resident_id: Number(resident.value),
      reason: reason.value.trim(),
      kind: kind.value,
    };
    if (hospital.value) body.hospital_id = hospital.value;
    const response = await apiFetch('/api/v1/referrals', { method: 'POST', json: body });
    if (!response.ok) {
      return fail(t('referrals.refused', { detail: await detailOf(response) }));
    }
    reason.value = '';
    form.closest('details').open = false;
    onCreated(await response.json());
  };
  const form = h(
    'form',
    { id: 'start-referral', class: 'start-form', novalidate: true, onsubmit: submit },
    h('label', {}, t('referrals.start_resident'), resident),
    h('label', {}, t('referrals.start_kind'), kind),
    h('label', {}, t('referrals.start_reason'), reason),
    h('label', {}, t('referrals.start_hospital'), hospital),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('referrals.start_submit')),
    ),
    message,
  );
  return h(
    'details',
    { class: 'card start-referral' },
    h('summary', {}, t('referrals.start')),
    form,
  );
}
