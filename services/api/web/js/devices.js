// Devices for integrators (and administrators): each device's state judged by the server, when
// it was last heard, placement, firmware, battery, whom it is assigned to (an id only), and its
// recent rejected messages on request.
import { $, h, put } from './dom.js';
import { deviceStatus, deviceStatusText } from './devstate.js';
import { formatTime } from './format.js';
import { LANGUAGE_EVENT, applyTranslations, initI18n, label, t } from './i18n.js';
import { mountHeader } from './layout.js';
import { api, requireSession } from './session.js';

const REFRESH_MS = 30_000;
const REJECTIONS = 10;
const state = { me: null, devices: [], error: null, open: new Map() }; // open: id -> rows|null

async function load() {
  const query = new URLSearchParams({ limit: '500' });
  if (!$('#show-retired').checked) query.set('retired', 'false');
  if (state.me?.site_id) query.set('site', state.me.site_id);
  try {
    state.devices = (await api(`/api/v1/devices?${query}`)).items;
    state.error = null;
  } catch (error) {
    state.error = error;
  }
  render();
}

async function loadRejections(id) {
  try {
    const page = await api(`/api/v1/devices/${encodeURIComponent(id)}/dead-letters?limit=${REJECTIONS}`);
    state.open.set(id, page.items);
  } catch (error) {
    state.open.set(id, error);
  }
  render();
}

function rejections(id) {
  const rows = state.open.get(id);
  if (rows === null) return h('p', { class: 'muted' }, '…');
  if (rows instanceof Error) return h('p', { class: 'error' }, t('common.error', { detail: rows.detail || rows.message }));
  if (!rows.length) return h('p', { class: 'muted' }, t('devices.no_rejections'));
  return h(
    'ul',
    { class: 'plain rejections' },
    rows.map((row) =>
      h(
        'li',
        { dataset: { reason: row.reason } },
        h('strong', {}, t('devices.rejected_at', { time: formatTime(row.received_at), reason: label('reject.', row.reason) })),
        h('br'),
        h('span', { class: 'muted' }, row.withheld ? t('devices.withheld') : [row.detail, row.preview].filter(Boolean).join(' · ')),
      ),
    ),
  );
}

function deviceItem(device) {
  const status = deviceStatus(device);
  const details = h(
    'details',
    {
      class: 'rejections-box',
      open: state.open.has(device.device_id),
      ontoggle: (event) => {
        if (event.target.open && !state.open.has(device.device_id)) {
          state.open.set(device.device_id, null);
          loadRejections(device.device_id);
        } else if (!event.target.open) state.open.delete(device.device_id);
      },
    },
    h('summary', {}, t('devices.rejections')),
    state.open.has(device.device_id) ? rejections(device.device_id) : null,
  );
  return h(
    'li',
    { class: `card device-card status-${status}`, dataset: { deviceId: device.device_id, status } },
    h('div', { class: 'row-head' }, h('strong', {}, device.device_id), h('span', { class: 'muted' }, ` · ${label('device_kind.', device.kind)} · ${device.site_id}`)),
    h('p', { class: 'device-status' }, h('span', { class: 'badge' }, deviceStatusText(device))),
    h(
      'p',
      { class: 'muted' },
      [
        device.placement ? t('devices.placement', { placement: label('placement.', device.placement) }) : t('devices.no_placement'),
        device.fw ? t('devices.fw', { fw: device.fw }) : t('devices.no_fw'),
        device.battery !== null ? t('device.battery', { level: Math.round(device.battery) }) : null,
        device.resident_id !== null ? t('devices.resident', { id: device.resident_id }) : t('devices.unassigned'),
      ]
        .filter(Boolean)
        .join(' · '),
    ),
    details,
  );
}

function render() {
  const list = $('#device-list');
  const error = $('#devices-error');
  error.hidden = !state.error;
  if (state.error) error.textContent = state.error.status === 403 ? t('common.forbidden') : t('common.unavailable');
  $('#no-devices').hidden = Boolean(state.error) || state.devices.length > 0;
  put(list, state.devices.map(deviceItem));
}

async function main() {
  if (!requireSession()) return;
  await initI18n();
  state.me = await api('/api/v1/auth/me');
  const redraw = () => {
    mountHeader('devices', state.me);
    applyTranslations();
    render();
  };
  redraw();
  document.addEventListener(LANGUAGE_EVENT, redraw);
  $('#show-retired').addEventListener('change', load);
  await load();
  setInterval(load, REFRESH_MS);
}

main().catch((error) => {
  state.error = error;
  render();
});
