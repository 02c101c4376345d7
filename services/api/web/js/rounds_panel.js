// Overdue rounds and visits of the caller's scope (/api/v1/visits/overdue) for the board: the
// caregiver on shift sees "巡视已逾期", whose, which round and how late. The panel loads and
// re-renders itself (on its own timer and on a language change).
import { h, put } from './dom.js';
import { LANGUAGE_EVENT, t } from './i18n.js';
import { api } from './session.js';
import { roomText } from './wardview.js';

const RELOAD_MS = 60_000;

/** "35 分钟", "2 小时 5 分钟", "3 天 4 小时": how late a round is. */
export function lateText(minutes) {
  if (minutes < 60) return t('visits.late_minutes', { m: minutes });
  if (minutes < 1440) return t('visits.late_hours', { h: Math.floor(minutes / 60), m: minutes % 60 });
  return t('visits.late_days', { d: Math.floor(minutes / 1440), h: Math.floor((minutes % 1440) / 60) });
}

export function kindText(kind) {
  return t(`visits.kind.${kind}`);
}

const panel = { items: null, error: null, box: null, residents: () => new Map() };

function render() {
  const { box } = panel;
  if (!box) return;
  if (panel.error) {
    put(box, h('li', { class: 'muted' }, t('common.unavailable')));
    return;
  }
  if (panel.items === null) return;
  const residents = panel.residents();
  const rows = panel.items.map((item) => {
    const room = residents.get(item.resident_id)?.room;
    return h(
      'li',
      { class: 'round-overdue', dataset: { residentId: item.resident_id, schedule: item.schedule_id } },
      h('a', { href: `/residents/${item.resident_id}` }, item.display_name),
      room ? ` · ${roomText(room)}` : '',
      h('br'),
      h('span', { class: 'badge overdue' }, t('visits.round_overdue')),
      ` ${item.label} · ${t('visits.late_by', { late: lateText(item.late_minutes) })}`,
    );
  });
  put(box, rows.length ? rows : h('li', { class: 'muted' }, t('visits.none_overdue')));
}

/** Mount the panel in `box`; `place()` gives {site, unit} to keep (null: all of the scope),
 * `residents()` the board's residents by id (for the room). */
export function mountRounds(box, place, residents) {
  panel.box = box;
  panel.residents = residents;
  const load = async () => {
    const { site, unit } = place();
    try {
      const found = await api(`/api/v1/visits/overdue${site ? `?site=${encodeURIComponent(site)}` : ''}`);
      panel.items = found.items.filter((item) => !unit || item.unit_id === unit);
      panel.error = null;
    } catch (error) {
      if (error.status === 401) return;
      panel.error = error;
    }
    render();
    box.dataset.loaded = 'true';
  };
  document.addEventListener(LANGUAGE_EVENT, render);
  setInterval(load, RELOAD_MS);
  return load();
}
