// What every page shares: the top bar (navigation, language, who is logged in, log out) and a
// place for messages.
import { $, h } from './dom.js';
import { LANGUAGES, language, setLanguage, t } from './i18n.js';
import { logout } from './session.js';

// Each link with who may use what is behind it (the API refuses the others anyway).
const OFF_WARD = ['integrator', 'family', 'family_doctor', 'regulator'];
const ward = (me) => !OFF_WARD.includes(me.role) && !me.hospital_id;
const NAV = [
  ['board', '/board', 'nav.board', ward],
  ['residents', '/residents', 'nav.residents', ward],
  ['handover', '/handover', 'nav.handover', ward],
  ['checkin', '/checkin', 'nav.checkin', ward],
  ['family', '/family', 'nav.family', (me) => me.role === 'family'],
  ['caseload', '/caseload', 'nav.caseload', (me) => me.role === 'family_doctor'],
  // Contracts and their coverage: the roles that may write them (a family doctor has the caseload).
  ['contracts', '/contracts', 'nav.contracts', (me) => ['admin', 'physician', 'nurse'].includes(me.role) && !me.hospital_id],
  ['referrals', '/referrals', 'nav.referrals', (me) => !['family', 'family_doctor', 'regulator'].includes(me.role)],
  // A whole site's figures: indicators:read, bound to no unit (docs/indicators.md).
  ['indicators', '/indicators', 'nav.indicators', (me) =>
    me.role === 'regulator' || (['admin', 'physician', 'nurse'].includes(me.role) && !me.hospital_id && !me.unit_ids.length)],
  ['devices', '/devices', 'nav.devices', (me) => ['admin', 'integrator'].includes(me.role) && !me.hospital_id],
  ['admin', '/admin', 'nav.admin', (me) => me.role === 'admin' && !me.hospital_id],
];

export function languageSwitch() {
  const select = h(
    'select',
    {
      id: 'language',
      class: 'language',
      'aria-label': t('nav.language'),
      onchange: (event) => setLanguage(event.target.value),
    },
    Object.entries(LANGUAGES).map(([code, name]) =>
      h('option', { value: code, selected: code === language() }, name),
    ),
  );
  return select;
}

/** Fill the page's <header id="top">; again after a language change. */
export function mountHeader(active, me) {
  const header = $('#top');
  header.replaceChildren(
    h('a', { class: 'brand', href: '/board' }, t('app.name')),
    h(
      'nav',
      { class: 'nav', 'aria-label': t('nav.label') },
      NAV.filter(([name, , , allowed]) => (me ? allowed(me) : name === 'board' || name === 'referrals')).map(([name, href, key]) =>
        h('a', { href, 'aria-current': name === active ? 'page' : null }, t(key)),
      ),
    ),
    h(
      'div',
      { class: 'who' },
      languageSwitch(),
      me ? h('span', { class: 'user' }, `${me.username} · ${t(`role.${me.role}`)}`) : null,
      h('button', { type: 'button', class: 'quiet', onclick: logout }, t('nav.logout')),
    ),
  );
}

let noticeTimer = null;

/** A short message at the top of the page (errors stay until closed). */
export function notify(message, { error = false } = {}) {
  let box = $('#notice');
  if (!box) {
    box = h('div', { id: 'notice', class: 'notice', role: 'status', 'aria-live': 'polite' });
    document.body.append(box);
  }
  clearTimeout(noticeTimer);
  box.className = error ? 'notice error' : 'notice';
  box.replaceChildren(
    h('span', {}, message),
    h(
      'button',
      { type: 'button', class: 'quiet', onclick: () => box.replaceChildren() },
      t('common.close'),
    ),
  );
  if (!error) noticeTimer = setTimeout(() => box.replaceChildren(), 6_000);
}
