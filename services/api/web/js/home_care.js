// A family-bed resident's home on the resident page: the home address, the emergency plan and
// the 120 guidance (the same catalogue text as the pages). Other residents: nothing shown.
import { $, h } from './dom.js';
import { t } from './i18n.js';
import { api } from './session.js';

let details = null;

export async function loadHomeCare(residentId) {
  try {
    details = await api(`/api/v1/residents/${residentId}/home-care`);
  } catch {
    details = null; // not for this caller: the rest of the page stands
  }
  renderHomeCare();
}

export function renderHomeCare() {
  const box = $('#home-care');
  if (!box) return;
  box.hidden = !details || details.site_kind !== 'family_bed';
  if (box.hidden) return;
  box.replaceChildren(
    h('h2', {}, t('home_care.heading')),
    h('p', { class: 'home-address' }, t('pages.home_address', { address: details.address || '—' })),
    h('p', { class: 'home-plan' }, t('pages.emergency_plan', { plan: details.emergency_plan || '—' })),
    h('p', { class: 'home-120' }, h('strong', {}, t('pages.call_120'))),
  );
}
