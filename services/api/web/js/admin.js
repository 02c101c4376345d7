// Administration: admit a resident and edit profiles, assign devices to residents, and edit the
// care team document. Everything goes through the API, which refuses anyone but an
// administrator (the page only hides itself from others).
import { $, h, put } from './dom.js';
import { deviceStatusText } from './devstate.js';
import { LANGUAGE_EVENT, applyTranslations, has, initI18n, keysOf, label, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { recordBody, recordFields } from './record_form.js';
import { api, apiFetch, detailOf, requireSession } from './session.js';

const TABS = ['residents', 'devices', 'team'];
const state = { me: null, residents: [], devices: [], editing: null };

// --- server errors, by field -----------------------------------------------------------------

/** FastAPI's 422 detail as [{loc, msg, type}], or null for any other answer. */
async function problemsOf(response) {
  try {
    const { detail } = await response.clone().json();
    return Array.isArray(detail) ? detail : null;
  } catch {
    return null;
  }
}

// Pydantic's words for the commonest problems, which reach us inside a care team's messages.
const KNOWN_MESSAGES = {
  'Field required': 'missing',
  'Extra inputs are not permitted': 'extra_forbidden',
};

/** The problem in the reader's language where the catalogue has it, else the server's words. */
function problemText(problem) {
  const type = problem.type === 'value_error' ? KNOWN_MESSAGES[problem.msg] : problem.type;
  return type && has(`error_type.${type}`) ? t(`error_type.${type}`) : problem.msg;
}

/** "人员 › 第 2 项 › 通知渠道 › 第 1 项" from a path such as staff.1.channels.0 */
function keyPath(parts) {
  return parts
    .map((part) => (/^\d+$/.test(String(part)) ? t('admin.item', { n: Number(part) + 1 }) : label('team_key.', part)))
    .join(' › ');
}

// --- the profile form (admission and editing) ------------------------------------------------

function field(name, control) {
  return h(
    'label',
    { class: 'field', dataset: { field: name } },
    h('span', {}, t(`admin.field_${name}`)),
    control,
    h('span', { class: 'field-error', role: 'alert' }),
  );
}

/** The conditions as checkboxes labelled from the catalogue (`condition.*`), saving the codes;
 * a code the catalogue lacks (stored through the API) stays listed and ticked, so it is kept. */
function conditionsField(resident) {
  const have = resident?.conditions ?? [];
  const codes = [...new Set([...keysOf('condition.'), ...have])];
  return h(
    'fieldset',
    { class: 'field conditions', dataset: { field: 'conditions' } },
    h('legend', {}, t('admin.field_conditions')),
    codes.map((code) =>
      h(
        'label',
        { class: 'check' },
        h('input', { type: 'checkbox', name: 'conditions', value: code, checked: have.includes(code) }),
        h('span', {}, label('condition.', code)),
      ),
    ),
    h('span', { class: 'field-error', role: 'alert' }),
  );
}

function profileFields(resident, { admit }) {
  const text = (name, value, extra = {}) =>
    h('input', { name, value: value ?? '', autocapitalize: 'none', spellcheck: 'false', ...extra });
  const scale = h(
    'select',
    { name: 'news2_scale' },
    [1, 2].map((n) =>
      h('option', { value: String(n), selected: (resident?.news2_scale ?? 1) === n }, t(`admin.scale_${n}`)),
    ),
  );
  const overrides = resident && Object.keys(resident.rule_overrides).length ? JSON.stringify(resident.rule_overrides, null, 2) : '';
  return [
    admit ? field('site_id', text('site_id', state.me?.site_id ?? '')) : null,
    field('unit_id', text('unit_id', resident?.unit_id ?? state.me?.unit_ids?.[0] ?? '')),
    field('display_name', text('display_name', resident?.display_name, { autocapitalize: 'words' })),
    field('room', text('room', resident?.room)),
    field('bed', text('bed', resident?.bed)),
    conditionsField(resident),
    h(
      'label',
      { class: 'field check', dataset: { field: 'fall_risk' } },
      h('input', { type: 'checkbox', name: 'fall_risk', checked: Boolean(resident?.fall_risk) }),
      h('span', {}, t('admin.field_fall_risk')),
      h('span', { class: 'field-error', role: 'alert' }),
    ),
    field('news2_scale', scale),
    field('timezone', text('timezone', resident?.timezone ?? 'Asia/Shanghai')),
    field('rule_overrides', h('textarea', { name: 'rule_overrides', rows: '3', spellcheck: 'false' }, overrides)),
    h('h3', {}, t('admin.record_heading')),
    recordFields(resident, field),
    h('p', { class: 'form-errors error', role: 'alert', hidden: true }),
  ];
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('.field.invalid')) el.classList.remove('invalid');
  form.querySelector('.form-errors').hidden = true;
}

function showErrors(form, problems, fallback) {
  const general = [];
  for (const problem of problems) {
    const name = problem.loc?.[0] === 'body' ? problem.loc[1] : null;
    const box = name ? form.querySelector(`.field[data-field="${CSS.escape(String(name))}"]`) : null;
    if (!box) {
      general.push(problemText(problem));
      continue;
    }
    box.classList.add('invalid');
    const out = box.querySelector('.field-error');
    // Inside a JSON field the key path leads, once (the server may also start its message so).
    const where = problem.loc.slice(2).join('.');
    const msg = where && problem.msg.startsWith(`${where}: `) ? problem.msg.slice(where.length + 2) : problem.msg;
    const text = (where ? `${where}：` : '') + problemText({ ...problem, msg });
    out.textContent = [out.textContent, text].filter(Boolean).join('；');
  }
  const summary = form.querySelector('.form-errors');
  summary.textContent = [fallback ?? t('admin.fix_fields'), ...general].join(' ');
  summary.hidden = false;
}

/** The body the API takes, or null (with the error shown) when a field does not parse. */
function profileBody(form, { admit, resident }) {
  const value = (name) => form.elements[name].value.trim();
  let overrides = {};
  if (value('rule_overrides')) {
    try {
      overrides = JSON.parse(value('rule_overrides'));
    } catch (error) {
      showErrors(form, [{ loc: ['body', 'rule_overrides'], type: 'value_error', msg: t('admin.bad_json', { detail: error.message }) }]);
      return null;
    }
  }
  const body = {
    unit_id: value('unit_id'),
    display_name: value('display_name'),
    room: value('room') || null,
    bed: value('bed') || null,
    conditions: [...form.querySelectorAll('input[name=conditions]:checked')].map((box) => box.value),
    fall_risk: form.elements.fall_risk.checked,
    news2_scale: Number(value('news2_scale')),
    timezone: value('timezone'),
    rule_overrides: overrides,
  };
  if (admit) body.site_id = value('site_id');
  const record = recordBody(form, admit ? null : resident);
  if (record.problems.length) {
    showErrors(form, record.problems);
    return null;
  }
  return { ...body, ...record.body };
}

async function sendProfile(form, { admit, resident }) {
  clearErrors(form);
  const body = profileBody(form, { admit, resident });
  if (!body) return;
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    const response = await apiFetch(admit ? '/api/v1/residents' : `/api/v1/residents/${resident.resident_id}`, {
      method: admit ? 'POST' : 'PATCH',
      json: body,
    });
    if (response.ok) {
      const saved = await response.json();
      notify(admit ? t('admin.admitted', { name: saved.display_name, id: saved.resident_id }) : t('admin.saved', { name: saved.display_name }));
      if (admit) form.reset();
      state.editing = null;
      await loadResidents();
      return;
    }
    const problems = await problemsOf(response);
    showErrors(form, problems ?? [], problems ? null : t('common.error', { detail: await detailOf(response) }));
  } catch {
    showErrors(form, [], t('common.offline'));
  } finally {
    button.disabled = false;
  }
}

/** A field's error goes as soon as it is edited: what is left marked still needs a change. */
function clearOnEdit(form) {
  form.addEventListener('input', (event) => {
    const box = event.target.closest('.field');
    if (!box) return;
    box.classList.remove('invalid');
    box.querySelector('.field-error').textContent = '';
  });
}

function renderAdmit() {
  const form = $('#admit-form');
  put(form, profileFields(null, { admit: true }), h('button', { type: 'submit', class: 'primary' }, t('admin.admit')));
  form.onsubmit = (event) => {
    event.preventDefault();
    sendProfile(form, { admit: true });
  };
  if (!form.dataset.watched) {
    form.dataset.watched = 'true';
    clearOnEdit(form);
  }
}

// --- residents -------------------------------------------------------------------------------

async function loadResidents() {
  try {
    state.residents = (await api('/api/v1/residents?limit=500')).items;
  } catch (error) {
    notify(t('common.error', { detail: error.detail || error.message }), { error: true });
  }
  renderResidents();
  renderDevices();
}

function residentRow(resident) {
  const editing = state.editing === resident.resident_id;
  const where = t('admin.place', { unit: resident.unit_id, room: resident.room ?? '—', bed: resident.bed ?? '—' });
  const row = h(
    'li',
    { class: 'admin-row', dataset: { residentId: String(resident.resident_id) } },
    h('div', { class: 'row-head' }, h('a', { href: `/residents/${resident.resident_id}` }, resident.display_name), h('span', { class: 'muted' }, ` #${resident.resident_id} · ${where}`)),
  );
  if (!editing) {
    row.append(h('button', { type: 'button', class: 'edit', onclick: () => ((state.editing = resident.resident_id), renderResidents()) }, t('admin.edit')));
    return row;
  }
  const form = h(
    'form',
    { class: 'stacked-form edit-form', novalidate: true },
    profileFields(resident, { admit: false }),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, t('admin.save')),
      h('button', { type: 'button', class: 'quiet', onclick: () => ((state.editing = null), renderResidents()) }, t('admin.cancel')),
    ),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    sendProfile(form, { admit: false, resident });
  };
  clearOnEdit(form);
  row.append(form);
  return row;
}

function renderResidents() {
  const list = $('#resident-list');
  put(list, state.residents.length ? state.residents.map(residentRow) : h('li', { class: 'muted' }, t('admin.no_residents')));
}

// --- devices ---------------------------------------------------------------------------------

async function loadDevices() {
  try {
    state.devices = (await api('/api/v1/devices?retired=false&limit=500')).items;
  } catch (error) {
    notify(t('common.error', { detail: error.detail || error.message }), { error: true });
  }
  renderDevices();
}

async function assign(device, residentId) {
  try {
    await api(`/api/v1/devices/${encodeURIComponent(device.device_id)}/resident`, { method: 'PUT', json: { resident_id: residentId } });
    const who = state.residents.find((r) => r.resident_id === residentId);
    notify(residentId === null ? t('admin.unassigned', { device: device.device_id }) : t('admin.assigned', { device: device.device_id, name: who?.display_name ?? residentId }));
  } catch (error) {
    notify(t('common.error', { detail: error.detail || error.message }), { error: true });
  }
  await loadDevices();
}

function deviceRow(device) {
  const wearer = state.residents.find((r) => r.resident_id === device.resident_id);
  const choices = state.residents.filter((r) => r.site_id === device.site_id && r.resident_id !== device.resident_id);
  const select = h(
    'select',
    { class: 'choose-resident', 'aria-label': t('admin.choose_resident') },
    h('option', { value: '' }, t('admin.choose_resident')),
    choices.map((r) => h('option', { value: String(r.resident_id) }, `${r.display_name} · ${r.room ?? '—'}/${r.bed ?? '—'}`)),
  );
  const assignButton = h('button', { type: 'button', class: 'primary assign', onclick: () => select.value && assign(device, Number(select.value)) }, t('admin.assign'));
  return h(
    'li',
    { class: 'admin-row', dataset: { deviceId: device.device_id } },
    h('div', { class: 'row-head' }, h('strong', {}, device.device_id), h('span', { class: 'muted' }, ` · ${label('device_kind.', device.kind)} · ${device.site_id}`)),
    h('p', { class: 'muted device-status' }, deviceStatusText(device)),
    h('p', { class: 'wearer' }, device.resident_id === null ? t('admin.not_assigned') : t('admin.assigned_to', { name: wearer?.display_name ?? `#${device.resident_id}` })),
    h(
      'div',
      { class: 'actions' },
      select,
      assignButton,
      device.resident_id === null ? null : h('button', { type: 'button', class: 'unassign', onclick: () => assign(device, null) }, t('admin.unassign')),
    ),
  );
}

function renderDevices() {
  put($('#assign-list'), state.devices.length ? state.devices.map(deviceRow) : h('li', { class: 'muted' }, t('admin.no_devices')));
}

// --- the care team ---------------------------------------------------------------------------

async function loadTeam() {
  try {
    const team = await api('/api/v1/care-team');
    $('#team-json').value = JSON.stringify(team.document, null, 2);
    $('#team-version').textContent = t('admin.team_version', { version: team.version });
  } catch (error) {
    notify(t('common.error', { detail: error.detail || error.message }), { error: true });
  }
}

function showTeamErrors(lines) {
  const box = $('#team-errors');
  put(box, h('p', {}, t('admin.team_invalid', { count: lines.length })), h('ul', {}, lines.map(([where, what]) => h('li', { dataset: { key: where } }, h('strong', {}, keyPathOf(where)), `：${what}`))));
  box.hidden = false;
}

function keyPathOf(dotted) {
  return keyPath(dotted.split('.'));
}

async function saveTeam(event) {
  event.preventDefault();
  $('#team-errors').hidden = true;
  let document;
  try {
    document = JSON.parse($('#team-json').value);
  } catch (error) {
    showTeamErrors([['document', t('admin.bad_json', { detail: error.message })]]);
    return;
  }
  const button = $('#team-save');
  button.disabled = true;
  try {
    const response = await apiFetch('/api/v1/care-team', { method: 'PUT', json: document });
    if (response.ok) {
      const { version } = await response.json();
      notify(t('admin.team_saved', { version }));
      await loadTeam();
      return;
    }
    const problems = await problemsOf(response);
    if (problems) showTeamErrors(problems.map((p) => [p.loc.slice(1).join('.') || 'document', problemText(p)]));
    else showTeamErrors([['document', t('common.error', { detail: await detailOf(response) })]]);
  } catch {
    showTeamErrors([['document', t('common.offline')]]);
  } finally {
    button.disabled = false;
  }
}

// --- the page --------------------------------------------------------------------------------

function showTab() {
  const wanted = location.hash.slice(1);
  const tab = TABS.includes(wanted) ? wanted : TABS[0];
  for (const name of TABS) {
    $(`#tab-${name}`).hidden = name !== tab;
    const link = $(`[data-tab="${name}"]`);
    if (name === tab) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  const redraw = () => {
    mountHeader('admin', state.me);
    applyTranslations();
    renderAdmit();
    renderResidents();
    renderDevices();
  };
  redraw();
  document.addEventListener(LANGUAGE_EVENT, redraw);
  window.addEventListener('hashchange', showTab);
  showTab();
  $('#admin-only').hidden = state.me.role === 'admin';
  $('#team-form').addEventListener('submit', saveTeam);
  await Promise.all([loadResidents(), loadDevices(), loadTeam()]);
}

main().catch((error) => notify(t('common.error', { detail: error.message }), { error: true }));
