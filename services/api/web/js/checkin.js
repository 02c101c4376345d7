// A member of staff's daily health check-in from a phone (temperature, symptoms), and for the
// leads of a unit who with a shift today has not checked in yet.
import { $, h, put } from './dom.js';
import { LANGUAGE_EVENT, initI18n, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { api, requireSession } from './session.js';

const SYMPTOMS = ['cough', 'sore_throat', 'vomiting', 'diarrhoea', 'rash', 'new_confusion'];
const LEADS = ['nurse', 'physician'];
const state = { me: null, day: null };

function symptomBoxes() {
  put(
    $('#symptoms'),
    ...SYMPTOMS.map((code) =>
      h('label', { class: 'chip' }, h('input', { type: 'checkbox', name: 'symptom', value: code }), t(`symptom.${code}`)),
    ),
  );
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const temperature = Number.parseFloat(form.temperature.value);
  if (!Number.isFinite(temperature) || temperature < 34 || temperature > 43) {
    notify(t('checkin.bad_temperature'), { error: true });
    return;
  }
  const body = {
    temperature,
    symptoms: [...form.querySelectorAll('input[name=symptom]:checked')].map((box) => box.value),
  };
  if (form.unit_id.value.trim()) body.unit_id = form.unit_id.value.trim();
  try {
    const saved = await api('/api/v1/staff-checkins', { method: 'POST', json: body });
    const done = $('#done');
    done.textContent = t('checkin.saved', { unit: saved.unit_id, temperature: saved.temperature.toFixed(1) });
    done.hidden = false;
    form.reset();
    await loadDay();
  } catch (error) {
    notify(t('common.error', { detail: error.message }), { error: true });
  }
}

function renderDay() {
  const day = state.day;
  if (!day) return;
  $('#today').hidden = false;
  put(
    $('#missing'),
    ...(day.missing.length
      ? day.missing.map((m) =>
          h('li', { class: m.late ? 'warn' : null }, t(m.late ? 'checkin.late' : 'checkin.due', { who: m.name, start: m.start.slice(0, 5) })),
        )
      : [h('li', { class: 'muted' }, t('checkin.none_missing'))]),
  );
  put(
    $('#checked-in'),
    ...day.checked_in.map((c) =>
      h(
        'li',
        {},
        t('checkin.entry', {
          who: c.name,
          unit: c.unit_id,
          temperature: c.temperature.toFixed(1),
          symptoms: c.symptoms.length ? c.symptoms.map((s) => t(`symptom.${s}`)).join(t('common.list_sep')) : t('checkin.well'),
        }),
      ),
    ),
  );
}

async function loadDay() {
  if (!LEADS.includes(state.me.role)) return;
  state.day = await api('/api/v1/staff-checkins');
  renderDay();
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('checkin', state.me);
  symptomBoxes();
  $('#checkin-form').addEventListener('submit', submit);
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('checkin', state.me);
    symptomBoxes();
    renderDay();
  });
  await loadDay();
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
