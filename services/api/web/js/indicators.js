// A site's indicators over a range of its days: the figures as a table (labels from the
// catalogue's `indicators.*` keys), precision per rule as bars (native <meter>: no library,
// works offline), and the same figures as CSV or Excel files.
import { $, h, put } from './dom.js';
import { formatNumber } from './format.js';
import { LANGUAGE_EVENT, initI18n, label, language, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { ApiError, api, apiFetch, detailOf, requireSession } from './session.js';

const GROUPS = {
  by_rule: 'rule.',
  by_syndrome: 'syndrome.',
  by_kind: 'indicators.visit_kind.',
  by_category: 'indicators.contract_category.',
};
// Shares of a whole, shown as percentages.
// Figure paths shown as percentages, by how they end (`contracts.target` is 0.8).
const PERCENT = ['_share', 'precision', '.rate', '.target'];
const state = { me: null, figures: null, query: null };

function shown(name, value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return t(`indicators.bool.${value}`);
  if (PERCENT.some((end) => name.endsWith(end))) return `${formatNumber(100 * value, 1)} %`;
  return formatNumber(value, Number.isInteger(value) ? 0 : 1);
}

// One row per figure, its label as the CSV's: the figure's words, then the rule's name.
function rows(figures, path = [], group = '') {
  const out = [];
  for (const [key, value] of Object.entries(figures)) {
    let here = [...path, key];
    let words = group;
    if (path.length && path[path.length - 1] in GROUPS && !group) {
      here = path;
      words = label(GROUPS[path[path.length - 1]], key);
    }
    if (value !== null && typeof value === 'object') {
      out.push(...rows(value, here, words));
      continue;
    }
    const figure = t(`indicators.${here.join('.')}`);
    out.push([words ? `${figure} · ${words}` : figure, shown(here.join('.'), value)]);
  }
  return out;
}

function render() {
  const body = state.figures;
  if (!body) return;
  const {
    site_id: _site,
    region_id: _region,
    lead_hospital: lead,
    sites: _sites,
    from: _from,
    to: _to,
    timezone: _zone,
    ...figures
  } = body;
  // A region's medical consortium and the hospital that leads it.
  $('#lead-hospital').hidden = !lead;
  $('#lead-hospital').textContent = lead ? t('indicators.page.lead_hospital', { name: lead.name }) : '';
  put(
    $('#figure-rows'),
    ...rows(figures).map(([label, value]) => h('tr', {}, h('th', { scope: 'row' }, label), h('td', {}, value))),
  );
  const rules = Object.entries(figures.alerts.by_rule).filter(([, r]) => r.precision !== null);
  put(
    $('#precision-rows'),
    ...rules.map(([rule, r]) =>
      h(
        'tr',
        {},
        h('th', { scope: 'row' }, label('rule.', rule)),
        h('td', {}, h('meter', { min: 0, max: 1, value: r.precision, 'aria-label': label('rule.', rule) })),
        h('td', {}, shown('precision', r.precision)),
      ),
    ),
  );
  $('#figures').hidden = false;
  $('#precision').hidden = !rules.length;
  $('#downloads').hidden = false;
}

async function show(event) {
  event?.preventDefault();
  const form = $('#range');
  // No site given: a regulator's whole region.
  const site = form.site.value.trim();
  const place = site || !state.me.region_id ? { site } : { region: state.me.region_id };
  state.query = new URLSearchParams({ ...place, from: form.from.value, to: form.to.value });
  history.replaceState(null, '', `/indicators?${state.query}`);
  try {
    state.figures = await api(`/api/v1/indicators?${state.query}`);
    render();
  } catch (error) {
    if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
  }
}

async function download(format) {
  const query = new URLSearchParams(state.query);
  query.set('format', format);
  query.set('lang', language() === 'zh' ? 'zh-CN' : 'en');
  const response = await apiFetch(`/api/v1/indicators?${query}`);
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  const link = h('a', {
    href: URL.createObjectURL(await response.blob()),
    download: `indicators-${query.get('site') || query.get('region')}-${query.get('from')}-${query.get('to')}.${format}`,
  });
  document.body.append(link);
  link.click();
  link.remove();
}

function defaults() {
  const form = $('#range');
  const asked = new URLSearchParams(location.search);
  const today = new Date();
  const first = new Date(today.getFullYear(), today.getMonth() - 1, 1);
  const last = new Date(today.getFullYear(), today.getMonth(), 0);
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  form.site.value = asked.get('site') || state.me.site_id || '';
  form.from.value = asked.get('from') || day(first);
  form.to.value = asked.get('to') || day(last);
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('indicators', state.me);
  defaults();
  $('#range').addEventListener('submit', show);
  for (const format of ['csv', 'xlsx']) {
    $(`#${format}`).addEventListener('click', () =>
      download(format).catch((error) => notify(t('common.error', { detail: error.message }), { error: true })),
    );
  }
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('indicators', state.me);
    render();
  });
  if ($('#range').site.value || state.me.region_id) await show();
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
