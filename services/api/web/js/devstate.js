// One wording for a device's state on every page, from the server's judgement (`online`,
// `offline_reason`, `last_seen`): an offline device never reads "last heard a second ago"
// unless that last word was its disconnection.
import { formatAge } from './format.js';
import { t } from './i18n.js';

/** 'online' | 'disconnected' | 'silent' | 'retired' | 'never' */
export function deviceStatus(device) {
  if (device.retired_at || device.offline_reason === 'retired') return 'retired';
  if (!device.last_seen) return 'never';
  if (device.online) return 'online';
  return device.offline_reason === 'disconnected' ? 'disconnected' : 'silent';
}

/** When, in the words its state needs: "1秒前断开连接", "最后通信 12分钟前"; '' if never. */
export function deviceWhen(device) {
  const status = deviceStatus(device);
  if (status === 'never' || status === 'retired') return '';
  const age = formatAge(device.last_seen);
  return t(status === 'disconnected' ? 'device.when_disconnected' : 'device.when_heard', { age });
}

/** The state and, where it says something, when: "离线 · 1秒前断开连接". */
export function deviceStatusText(device) {
  const status = deviceStatus(device);
  if (status === 'never' || status === 'retired') return t(`device.state_${status}`);
  return `${t(status === 'online' ? 'device.online' : 'device.offline')} · ${deviceWhen(device)}`;
}
