// A site's family-doctor contracts: coverage of each special-needs category against the 80 %
// target (figure and numbers), the contracts with their dates, a form to sign one and a way to
// end one (a later or earlier end date) for the roles the API lets write contracts.
import { $, h, put } from './dom.js';
import { coverageFigure, rateText } from './coverage_figure.js';
import { FormProblem, send } from './form_problems.js';
import { LANGUAGE_EVENT, initI18n, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { api, requireSession } from './session.js';

const WRITERS = ['admin', 'physician', 'nurse'];
const PATH = '/api/v1/family-doctor-contracts';
const PAGE = 500;
const state = { me: null, site: '', coverage: [], contracts: [], residents: [] };

const canWrite = () => WRITERS.includes(state.me.role) && !state.me.hospital_id;
const categoryText = (c) => (c ? t(`contracts.category.${c}`) : t('contracts.category_none'));

/** Today in the site's zone ('YYYY-MM-DD'); the residents' zone, Asia/Shanghai by default. */
function today() {
  const zone = state.residents[0]?.timezone || 'Asia/Shanghai';
  return new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
}

function renderCoverage() {
  $('#coverage').hidden = false;
  if (state.coverage instanceof Error) {
    const key = state.coverage.status === 403 ? 'contracts.coverage_forbidden' : 'common.unavailable';
    put($('#coverage-figure'), h('p', { class: 'muted' }, t(key)));
    put($('#coverage-rows'));
    return;
  }
  put($('#coverage-figure'), coverageFigure(state.coverage));
  put(
    $('#coverage-rows'),
    state.coverage.map((item) =>
      h(
        'tr',
        { dataset: { category: item.category } },
        h('th', { scope: 'row' }, t(`contracts.category.${item.category}`)),
        h('td', { class: 'residents' }, String(item.residents)),
        h('td', { class: 'contracted' }, String(item.contracted)),
        h('td', { class: 'rate' }, rateText(item.rate)),
        h(
          'td',
          { class: `verdict ${item.meets_target ? 'meets' : 'below'}` },
          item.meets_target === null ? '—' : t(item.meets_target ? 'contracts.meets' : 'contracts.below'),
        ),
      ),
    ),
  );
}

function nameOf(residentId) {
  const found = state.residents.find((r) => r.resident_id === residentId);
  return found ? found.display_name : t('resident.fallback_name', { id: residentId });
}

function endForm(contract) {
  const date = h('input', { type: 'date', name: 'end_on', value: today(), 'aria-label': t('contracts.field.end_on') });
  const end = async (event) => {
    event.preventDefault();
    $('#list-errors').textContent = '';
    try {
      await send(`${PATH}/${contract.contract_id}`, {
        method: 'PATCH',
        json: { end_on: date.value || null },
        fieldPrefix: 'contracts.field.',
      });
      notify(t('contracts.ended'));
      await load();
    } catch (problem) {
      $('#list-errors').textContent =
        problem instanceof FormProblem ? problem.message : t('common.error', { detail: problem.message });
    }
  };
  return h('form', { class: 'inline-form end-contract', onsubmit: end }, date, h('button', { type: 'submit', class: 'quiet' }, t('contracts.end')));
}

function renderList() {
  const rows = state.contracts.map((c) =>
    h(
      'li',
      { class: 'contract', dataset: { contract: c.contract_id, resident: c.resident_id } },
      h('a', { href: `/residents/${c.resident_id}` }, nameOf(c.resident_id)),
      ` · ${categoryText(c.category)} · ${c.team} · ${c.doctor} · ${c.service_package}`,
      h('div', { class: 'muted' }, t('contracts.period', { start: c.start_on, end: c.end_on })),
      canWrite() ? endForm(c) : null,
    ),
  );
  put($('#contract-rows'), rows);
  $('#contracts-none').hidden = rows.length > 0;
  $('#list').hidden = false;
}

function renderForm() {
  const form = $('#sign-form');
  const chosen = form.resident_id.value;
  put(
    form.resident_id,
    h('option', { value: '' }, t('contracts.choose_resident')),
    state.residents.map((r) => h('option', { value: r.resident_id }, r.display_name)),
  );
  form.resident_id.value = chosen;
  const doctors = [...new Set(state.contracts.map((c) => c.doctor))];
  put($('#doctors'), doctors.map((d) => h('option', { value: d })));
  if (!form.start_on.value) form.start_on.value = today();
  $('#sign').hidden = !canWrite();
}

async function sign(event) {
  event.preventDefault();
  const form = event.target;
  const errors = $('#sign-errors');
  errors.textContent = '';
  const body = {
    resident_id: Number(form.resident_id.value) || null,
    team: form.team.value.trim(),
    doctor: form.doctor.value.trim(),
    start_on: form.start_on.value || null,
    end_on: form.end_on.value || null,
    service_package: form.service_package.value.trim(),
    category: form.category.value || null,
  };
  const button = form.querySelector('button[type=submit]');
  button.disabled = true;
  try {
    await send(PATH, { json: body, fieldPrefix: 'contracts.field.' });
    form.reset();
    notify(t('contracts.signed'));
    await load();
  } catch (problem) {
    // A refusal in the reader's words; anything else (the network) as it came.
    errors.textContent = problem instanceof FormProblem ? problem.message : t('common.error', { detail: problem.message });
  } finally {
    button.disabled = false;
  }
}

/** Every item of a list, page by page (contracts have no site filter; a site has many
 * residents). */
async function allPages(path) {
  const found = [];
  for (let offset = 0; ; offset += PAGE) {
    const page = (await api(`${path}&limit=${PAGE}&offset=${offset}`)).items;
    found.push(...page);
    if (page.length < PAGE) return found;
  }
}

async function load() {
  const site = encodeURIComponent(state.site);
  // A whole site's coverage is for callers bound to no unit: others still get the list.
  const [coverage, contracts, residents] = await Promise.all([
    api(`/api/v1/sites/${site}/contract-coverage`).catch((error) => error),
    allPages(`${PATH}?`),
    allPages(`/api/v1/residents?site=${site}`),
  ]);
  state.coverage = coverage instanceof Error ? coverage : coverage.items;
  state.contracts = contracts.filter((c) => c.site_id === state.site);
  state.residents = residents;
  renderAll();
  $('#contracts-page').dataset.loaded = 'true';
}

function renderAll() {
  mountHeader('contracts', state.me);
  if (!state.site) return;
  renderCoverage();
  renderList();
  renderForm();
}

async function show(event) {
  event?.preventDefault();
  state.site = $('#site-form').site.value.trim();
  if (!state.site) return;
  history.replaceState(null, '', `/contracts?site=${encodeURIComponent(state.site)}`);
  try {
    await load();
  } catch (error) {
    if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
  }
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('contracts', state.me);
  const form = $('#site-form');
  form.site.value = new URLSearchParams(location.search).get('site') || state.me.site_id || '';
  form.addEventListener('submit', show);
  $('#sign-form').addEventListener('submit', (event) =>
    sign(event).catch((error) => notify(t('common.error', { detail: error.message }), { error: true })),
  );
  document.addEventListener(LANGUAGE_EVENT, renderAll);
  await show();
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
