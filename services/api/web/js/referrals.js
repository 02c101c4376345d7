// Referrals: open ones first, each with its state, why in words, the vitals it carries, and
// one button per step the caller's side and role may take (`actions`, not every next state);
// declining, dismissing and cancelling ask for the reason. Nurses and physicians of the care
// side may start one by hand.
import { $, h } from './dom.js';
import { formatAge } from './format.js';
import { LANGUAGE_EVENT, initI18n, label, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import {
  downloadFhir,
  historyList,
  reasonWords,
  siteTime,
  vitalsTable,
} from './referral_detail.js';
import { mayStart, startForm } from './referral_form.js';
import { dischargeBlock, mayReturn, returnForm } from './return_form.js';
import { api, apiFetch, detailOf, requireSession } from './session.js';
import { HOME_ROOM } from './wardview.js';

const FINAL = new Set(['dismissed', 'declined', 'returned', 'cancelled']);
const NOTE_REQUIRED = new Set(['dismissed', 'declined', 'cancelled']);
const REFRESH_MS = 30_000;

const state = {
  me: null,
  referrals: [],
  residents: new Map(),
  details: new Map(), // referral id -> the referral with its snapshot and history
  expanded: new Set(), // referral ids whose snapshot is open
  error: null,
  busy: new Set(),
  asking: new Map(), // referral id -> the state whose note is being asked for
  messages: new Map(), // referral id -> [text, isError]
};

async function load({ periodic = false } = {}) {
  try {
    const page = await api('/api/v1/referrals?limit=200');
    state.referrals = page.items;
    state.error = null;
  } catch (error) {
    state.error = error;
  }
  render({ periodic });
  loadDetails();
}

async function loadDetails() {
  // The list carries no snapshot: fetch it for each shown referral that changed since.
  const stale = shown().filter((r) => state.details.get(r.id)?.updated_at !== r.updated_at);
  const fetched = await Promise.allSettled(stale.map((r) => api(`/api/v1/referrals/${r.id}`)));
  for (const result of fetched) {
    if (result.status === 'fulfilled') state.details.set(result.value.id, result.value);
  }
  if (stale.length) render({ periodic: true });
}

async function loadResidents() {
  // Names for the list; hospital users without access to the residents see numbers.
  try {
    const page = await api('/api/v1/residents?limit=500');
    state.residents = new Map(page.items.map((r) => [r.resident_id, r]));
    render();
  } catch {
    // Keep the numbers.
  }
  await mountStart();
}

/** The residents of the referrals a hospital has received: [[id, name]], for its returns. */
function referredResidents() {
  const names = new Map();
  for (const referral of state.referrals) {
    const patient = state.details.get(referral.id)?.snapshot.patient;
    const known = names.get(referral.resident_id);
    if (!known || patient) {
      names.set(
        referral.resident_id,
        patient?.name ?? t('resident.fallback_name', { id: referral.resident_id }),
      );
    }
  }
  return [...names.entries()];
}

function mountReturn() {
  const form = returnForm(referredResidents(), (created) => {
    const referral = created.referral;
    state.referrals = [referral, ...state.referrals.filter((r) => r.id !== referral.id)];
    state.details.set(referral.id, referral);
    // A return arrives closed (returned), so its card shows only with the closed ones.
    notify(t('returns.sent', { id: referral.id }));
    render();
  });
  $('#start-slot').replaceChildren(form);
}

async function mountStart() {
  // Built again when the language changes: its labels are the catalogue's.
  if (mayReturn(state.me)) {
    mountReturn();
    return;
  }
  if (!mayStart(state.me)) return;
  const form = await startForm([...state.residents.values()], (created) => {
    state.referrals = [created, ...state.referrals.filter((r) => r.id !== created.id)];
    state.details.set(created.id, created);
    state.messages.set(created.id, [t('referrals.started', { id: created.id }), false]);
    render();
  });
  $('#start-slot').replaceChildren(form);
}

async function transition(referral, to, note = '') {
  const id = referral.id;
  state.busy.add(id);
  state.messages.delete(id);
  render();
  try {
    const response = await apiFetch(`/api/v1/referrals/${id}/transition`, {
      method: 'POST',
      json: { to, note },
    });
    if (response.ok) {
      const updated = await response.json();
      state.referrals = state.referrals.map((r) => (r.id === id ? updated : r));
      state.details.set(id, updated);
      state.asking.delete(id);
      state.messages.set(id, [t('referrals.moved', { state: t(`state.${to}`) }), false]);
    } else {
      state.messages.set(id, [t('referrals.refused', { detail: await detailOf(response) }), true]);
      if (response.status === 409) await load();
    }
  } catch (error) {
    if (error.status !== 401) state.messages.set(id, [t('common.offline'), true]);
  } finally {
    state.busy.delete(id);
    render();
  }
}

function noteForm(referral, to) {
  const input = h('textarea', {
    rows: 2,
    maxlength: 2000,
    'aria-required': 'true',
    class: 'note',
    'aria-label': t('referrals.note_required'),
  });
  const form = h(
    'form',
    {
      class: 'note-form',
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        const note = input.value.trim();
        if (!note) {
          state.messages.set(referral.id, [t('referrals.note_required'), true]);
          render();
          return;
        }
        transition(referral, to, note);
      },
    },
    h('label', {}, t('referrals.note_for', { state: t(`state.${to}`) }), input),
    h(
      'div',
      { class: 'actions' },
      h(
        'button',
        { type: 'submit', class: 'primary', dataset: { confirm: to } },
        t(`transition.${to}`),
      ),
      h(
        'button',
        {
          type: 'button',
          onclick: () => {
            state.asking.delete(referral.id);
            render();
          },
        },
        t('common.back'),
      ),
    ),
  );
  queueMicrotask(() => input.focus());
  return form;
}

function card(referral) {
  const id = referral.id;
  const resident = state.residents.get(referral.resident_id);
  const busy = state.busy.has(id);
  const asking = state.asking.get(id);
  const message = state.messages.get(id);
  const due = referral.sla_due_at ? new Date(referral.sla_due_at) : null;
  const detail = state.details.get(id) ?? null;
  const zone = referral.timezone;
  return h(
    'li',
    {
      class: `card referral state-${referral.state}`,
      dataset: { referralId: id, state: referral.state },
    },
    h(
      'div',
      { class: 'alert-head' },
      h('span', { class: `badge state state-${referral.state}` }, t(`state.${referral.state}`)),
      h(
        'span',
        { class: 'badge kind', dataset: { kind: referral.kind } },
        label('kind.', referral.kind),
      ),
      h('span', { class: 'muted' }, `#${id} · ${label('trigger.', referral.trigger)}`),
      h(
        'time',
        { datetime: referral.updated_at, title: siteTime(referral.updated_at, zone) },
        formatAge(referral.updated_at),
      ),
    ),
    h(
      'h3',
      {},
      who(referral, resident, detail),
      ' → ',
      referral.hospital.name,
    ),
    reasonWords(referral, detail),
    readLink(referral),
    h(
      'p',
      { class: 'muted' },
      t('referrals.opened', { when: siteTime(referral.created_at, zone) }),
      referral.requester ? ` · ${t('referrals.by', { who: referral.requester.id })}` : '',
      due
        ? ` · ${t(due < Date.now() ? 'referrals.overdue' : 'referrals.due', { when: formatAge(due) })}`
        : '',
    ),
    asking
      ? noteForm(referral, asking)
      : h(
          'div',
          { class: 'actions' },
          referral.actions.map((to) =>
            h(
              'button',
              {
                type: 'button',
                class: `transition to-${to}${NOTE_REQUIRED.has(to) ? '' : ' primary'}`,
                dataset: { to },
                disabled: busy,
                onclick: () => {
                  if (NOTE_REQUIRED.has(to)) {
                    state.asking.set(id, to);
                    state.messages.delete(id);
                    render();
                  } else transition(referral, to);
                },
              },
              t(`transition.${to}`),
            ),
          ),
        ),
    message
      ? h('p', { class: `card-message${message[1] ? ' error' : ''}`, role: 'status' }, message[0])
      : null,
    detail?.discharge ? dischargeBlock(detail.discharge) : null,
    detail ? carried(referral, detail) : null,
  );
}

// While open, the receiving hospital's physician reads the resident's trends and alerts
// through the referral (services/api/routes/referral_access.py).
const READABLE = new Set(['requested', 'accepted', 'in_transit', 'admitted']);

function readLink(referral) {
  const me = state.me;
  if (!me?.hospital_id || me.role !== 'physician' || !READABLE.has(referral.state)) return null;
  const href = `/residents/${referral.resident_id}?referral=${referral.id}`;
  return h('p', { class: 'read-through' }, h('a', { href }, t('record.referral_read')));
}

function who(referral, resident, detail) {
  // The hospital side cannot open a resident's page: the name (and bed) the referral carries.
  if (resident) {
    return h('a', { href: `/residents/${referral.resident_id}` }, resident.display_name);
  }
  const patient = detail?.snapshot.patient;
  if (!patient) return t('resident.fallback_name', { id: referral.resident_id });
  const room = patient.room === HOME_ROOM ? t('resident.home') : patient.room;
  const place = [room, patient.bed].filter(Boolean).join('-');
  return place ? `${patient.name} · ${place}` : patient.name;
}

function carried(referral, detail) {
  // The vitals snapshot, the steps so far and the FHIR export, folded on a phone.
  const id = referral.id;
  const fhir = h(
    'button',
    {
      type: 'button',
      class: 'fhir-download',
      onclick: () =>
        downloadFhir(id).catch((error) =>
          notify(t('common.error', { detail: error.message }), { error: true }),
        ),
    },
    t('referrals.fhir'),
  );
  return h(
    'details',
    {
      class: 'referral-carried',
      open: state.expanded.has(id),
      ontoggle: (event) => {
        if (event.target.open) state.expanded.add(id);
        else state.expanded.delete(id);
      },
    },
    h('summary', {}, t('referrals.carried')),
    vitalsTable(detail.snapshot, referral.timezone),
    historyList(detail, referral.timezone),
    h('div', { class: 'actions' }, fhir),
  );
}

function shown() {
  const showClosed = $('#show-closed').checked;
  return state.referrals
    .filter((r) => showClosed || !FINAL.has(r.state))
    .sort(
      (a, b) =>
        FINAL.has(a.state) - FINAL.has(b.state) || new Date(b.updated_at) - new Date(a.updated_at),
    );
}

function render({ periodic = false } = {}) {
  const list = $('#referrals');
  // A periodic reload must not wipe a note being typed.
  if (
    periodic &&
    list.contains(document.activeElement) &&
    document.activeElement.tagName === 'TEXTAREA'
  )
    return;
  if (state.error) {
    list.replaceChildren(
      h('li', { class: 'error' }, t('common.error', { detail: state.error.message })),
    );
    return;
  }
  const cards = shown();
  list.replaceChildren(...cards.map(card));
  $('#no-referrals').hidden = cards.length > 0;
  list.dataset.loaded = 'true';
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('referrals', state.me);
  $('#show-closed').addEventListener('change', () => {
    render();
    loadDetails();
  });
  await load();
  loadResidents();
  setInterval(() => load({ periodic: true }), REFRESH_MS);
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('referrals', state.me);
    render();
    mountStart().catch(() => {});
  });
}

main().catch((error) => {
  // A 401 has already sent the browser to the login page.
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
