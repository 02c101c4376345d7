// Contract coverage per special-needs category as bars against the 80 % target: inline SVG
// drawn here (no library, no network), the rate written beside each bar so it reads without
// colour too.
import { s } from './dom.js';
import { formatNumber } from './format.js';
import { t } from './i18n.js';

const WIDTH = 640;
const ROW = 44;
const LEFT = 190; // the category's name
const BAR = 330;

export function rateText(rate) {
  return rate === null ? '—' : `${formatNumber(100 * rate, 1)} %`;
}

function row(item, index) {
  const y = 12 + index * ROW;
  const met = item.meets_target === null ? 'empty' : item.meets_target ? 'meets' : 'below';
  const filled = item.rate === null ? 0 : Math.round(BAR * item.rate * 10) / 10;
  const target = LEFT + BAR * item.target;
  return s(
    'g',
    { class: `coverage-row ${met}`, 'data-category': item.category, 'data-rate': item.rate ?? '' },
    s('text', { x: 0, y: y + 19, class: 'coverage-name' }, t(`contracts.category.${item.category}`)),
    s('rect', { x: LEFT, y, width: BAR, height: 26, rx: 4, class: 'coverage-track' }),
    s('rect', { x: LEFT, y, width: filled, height: 26, rx: 4, class: 'coverage-bar' }),
    s('line', { x1: target, x2: target, y1: y - 4, y2: y + 30, class: 'coverage-target' }),
    s('text', { x: LEFT + BAR + 10, y: y + 19, class: 'coverage-rate' }, rateText(item.rate)),
  );
}

/** The figure for the API's coverage items (category, rate, target, meets_target). */
export function coverageFigure(items) {
  const height = 24 + items.length * ROW;
  return s(
    'svg',
    {
      viewBox: `0 0 ${WIDTH} ${height}`,
      role: 'img',
      'aria-label': t('contracts.figure_label'),
      class: 'coverage-svg',
    },
    items.map(row),
    s('text', { x: LEFT + BAR * 0.8, y: height - 2, class: 'coverage-target-label' }, t('contracts.target_mark')),
  );
}
