// The login page: the OAuth2 password flow, then on to where the user was going.
import { $ } from './dom.js';
import { LANGUAGE_EVENT, initI18n, t } from './i18n.js';
import { languageSwitch } from './layout.js';
import { detailOf, safeNext, session, storeTokens } from './session.js';

const next = safeNext(new URLSearchParams(location.search).get('next'));

function showError(message) {
  const box = $('#login-error');
  box.textContent = message;
  box.hidden = !message;
}

/** Where this user lands: where they were going, except that the board (the default) is no
 * place for an integrator, who may not read it: their page is the devices'; a family
 * login's is the family view, a family doctor's their caseload, a regulator's the indicators. */
async function landing(token) {
  if (next !== '/board') return next;
  try {
    const response = await fetch('/api/v1/auth/me', { headers: { Authorization: `Bearer ${token}` } });
    const me = response.ok ? await response.json() : null;
    if (me && me.role === 'integrator' && !me.hospital_id) return '/devices';
    if (me && me.role === 'family') return '/family';
    if (me && me.role === 'family_doctor') return '/caseload';
    if (me && me.role === 'regulator') return '/indicators';
  } catch {
    // The board's own page sends them on if it cannot be read.
  }
  return next;
}

async function submit(event) {
  event.preventDefault();
  const form = event.target;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError(t('login.missing'));
    return;
  }
  const button = $('#login-submit');
  button.disabled = true;
  showError('');
  try {
    const response = await fetch('/api/v1/auth/token', {
      method: 'POST',
      body: new URLSearchParams({ username, password }),
    });
    if (response.ok) {
      const pair = await response.json();
      storeTokens(pair);
      location.replace(await landing(pair.access_token));
      return;
    }
    if (response.status === 401) showError(t('login.failed'));
    else if (response.status === 429) showError(t('login.throttled'));
    else showError(t('common.error', { detail: await detailOf(response) }));
  } catch {
    showError(t('common.offline'));
  } finally {
    button.disabled = false;
  }
}

async function main() {
  // The form works even if the catalogues cannot be loaded: the page's English stays.
  $('#login-form').addEventListener('submit', submit);
  const current = session();
  if (current && current.expiresAt > Date.now()) {
    location.replace(next);
    return;
  }
  await initI18n();
  const slot = $('#language-slot');
  slot.replaceChildren(languageSwitch());
  document.addEventListener(LANGUAGE_EVENT, () => slot.replaceChildren(languageSwitch()));
  $('#username').focus();
}

main().catch(() => showError(t('common.offline')));
