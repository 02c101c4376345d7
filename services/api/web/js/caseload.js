// A family doctor's caseload: the residents under a contract in force, across sites, each
// linking to the resident page (record, NEWS2, trends, rounds).
import { $, h } from './dom.js';
import { LANGUAGE_EVENT, initI18n, label, t } from './i18n.js';
import { mountHeader, notify } from './layout.js';
import { api, requireSession } from './session.js';

const state = { me: null, items: [] };

function entry(item) {
  return h(
    'li',
    { class: 'family-alert', 'data-resident': String(item.resident_id) },
    h('a', { href: `/residents/${item.resident_id}` }, item.display_name),
    ` · ${item.site_id} · ${label('site_kind.', item.site_kind)}`,
    item.open_alerts ? h('div', { class: 'family-outcome' }, t('caseload.open_alerts', { n: item.open_alerts })) : null,
  );
}

function render() {
  $('#caseload').replaceChildren(...state.items.map(entry));
  $('#caseload-none').hidden = state.items.length > 0;
  $('#caseload-page').dataset.loaded = 'true';
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  mountHeader('caseload', state.me);
  state.items = (await api('/api/v1/caseload')).items;
  render();
  document.addEventListener(LANGUAGE_EVENT, () => {
    mountHeader('caseload', state.me);
    render();
  });
}

main().catch((error) => {
  if (error.status !== 401) notify(t('common.error', { detail: error.message }), { error: true });
});
