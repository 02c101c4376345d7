// A trend chart drawn as SVG: the bucket averages as a line, min to max as a band, gaps left
// open (no line across a time nothing was measured), and the rules' limits as dashed lines.
import { s } from './dom.js';
import { formatNumber } from './format.js';
import { locale } from './i18n.js';
import { zoneOffsetMs } from './sitetime.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TIME_STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720]
  .map((m) => m * MINUTE)
  .concat([1, 2, 5, 7].map((d) => d * DAY));
const MARGIN = { top: 14, right: 64, bottom: 28, left: 44 };

function niceStep(span, count) {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 2.5, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}

function yDomain(points, thresholds) {
  const values = points.flatMap((p) => [p.min, p.max]).concat(thresholds.map((l) => l.value));
  if (values.length === 0) return [0, 1];
  let low = Math.min(...values);
  let high = Math.max(...values);
  if (high - low < 1) {
    low -= 1;
    high += 1;
  }
  const pad = (high - low) * 0.08;
  return [low - pad, high + pad];
}

function timeTicks(start, end, zone) {
  const step = TIME_STEPS.find((candidate) => (end - start) / candidate <= 6) || 7 * DAY;
  // Ticks on the round numbers (whole hours, midnights) of the clock read: `zone`'s if given
  // (the site's), else this device's.
  const offset = zone ? zoneOffsetMs(start, zone) : -new Date(start).getTimezoneOffset() * MINUTE;
  const ticks = [];
  for (let at = Math.ceil((start + offset) / step) * step - offset; at <= end; at += step) {
    ticks.push(at);
  }
  const options =
    step >= DAY
      ? { month: 'short', day: 'numeric' }
      : { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
  const format = new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone });
  return ticks.map((at) => ({ at, text: format.format(new Date(at)) }));
}

/** Runs of points with no gap wider than `gapMs` between neighbours. */
function runs(points, gapMs) {
  const out = [];
  let run = [];
  for (const point of points) {
    if (run.length && point.t - run[run.length - 1].t > gapMs) {
      out.push(run);
      run = [];
    }
    run.push(point);
  }
  if (run.length) out.push(run);
  return out;
}

/**
 * Draw into `container` (replacing what was there).
 * points: [{ts, min, avg, max, count}]; start, end: ms; thresholds: [{value, side, text}];
 * bucketMs: the bucket width; digits: decimals shown; emptyText: shown without data.
 */
export function drawChart(
  container,
  { points, start, end, thresholds, bucketMs, digits, emptyText, title, zone },
) {
  const width = Math.max(280, Math.round(container.clientWidth || 600));
  const height = width < 500 ? 220 : 280;
  const plot = {
    x0: MARGIN.left,
    x1: width - MARGIN.right,
    y0: height - MARGIN.bottom,
    y1: MARGIN.top,
  };
  const data = points
    .map((p) => ({ ...p, t: new Date(p.ts).getTime() }))
    .filter((p) => p.t >= start - bucketMs && p.t <= end)
    .sort((a, b) => a.t - b.t);
  const [low, high] = yDomain(data, thresholds);
  const x = (t) => plot.x0 + ((t - start) / (end - start)) * (plot.x1 - plot.x0);
  const y = (v) => plot.y0 - ((v - low) / (high - low)) * (plot.y0 - plot.y1);

  const svg = s('svg', {
    class: 'chart-svg',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': title,
    'data-points': data.length,
  });
  const grid = s('g', { class: 'grid' });
  const step = niceStep(high - low, 5);
  for (let v = Math.ceil(low / step) * step; v <= high; v += step) {
    grid.append(
      s('line', { x1: plot.x0, x2: plot.x1, y1: y(v), y2: y(v) }),
      s('text', { x: plot.x0 - 6, y: y(v), class: 'y-label' }, formatNumber(v, step < 1 ? 1 : 0)),
    );
  }
  for (const tick of timeTicks(start, end, zone)) {
    grid.append(
      s('line', { x1: x(tick.at), x2: x(tick.at), y1: plot.y0, y2: plot.y1, class: 'x-grid' }),
      s(
        'text',
        { x: x(tick.at), y: plot.y0 + 18, class: 'x-label', 'data-at': new Date(tick.at).toISOString() },
        tick.text,
      ),
    );
  }
  svg.append(grid);

  for (const line of thresholds) {
    if (line.value < low || line.value > high) continue;
    svg.append(
      s(
        'g',
        { class: `threshold ${line.side}`, 'data-value': line.value },
        s('line', { x1: plot.x0, x2: plot.x1, y1: y(line.value), y2: y(line.value) }),
        s('text', { x: plot.x1 + 4, y: y(line.value) }, line.text),
      ),
    );
  }

  const gap = Math.max(bucketMs * 2.5, 3 * MINUTE);
  const series = s('g', { class: 'series' });
  for (const run of runs(data, gap)) {
    if (run.length > 1) {
      const upper = run.map((p) => `${x(p.t).toFixed(1)},${y(p.max).toFixed(1)}`);
      const lower = run.map((p) => `${x(p.t).toFixed(1)},${y(p.min).toFixed(1)}`).reverse();
      series.append(s('polygon', { class: 'band', points: [...upper, ...lower].join(' ') }));
      const path = run.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.avg).toFixed(1)}`);
      series.append(s('path', { class: 'avg', d: path.join('') }));
    }
    if (run.length < 40) {
      for (const p of run)
        series.append(s('circle', { class: 'dot', cx: x(p.t), cy: y(p.avg), r: 3 }));
    }
  }
  svg.append(series);
  svg.append(
    s('rect', {
      class: 'frame',
      x: plot.x0,
      y: plot.y1,
      width: plot.x1 - plot.x0,
      height: plot.y0 - plot.y1,
    }),
  );

  if (data.length === 0) {
    svg.append(
      s(
        'text',
        { class: 'empty', x: (plot.x0 + plot.x1) / 2, y: (plot.y0 + plot.y1) / 2 },
        emptyText,
      ),
    );
  } else {
    addReadout(svg, data, { x, y, plot, digits, zone });
  }
  container.replaceChildren(svg);
}

/** Touch or hover shows the nearest bucket's time, average and range. */
function addReadout(svg, data, { x, y, plot, digits, zone }) {
  const marker = s('line', {
    class: 'readout-line',
    y1: plot.y0,
    y2: plot.y1,
    visibility: 'hidden',
  });
  const text = s('text', { class: 'readout', y: plot.y1 + 12, visibility: 'hidden' });
  svg.append(marker, text);
  const timeFormat = new Intl.DateTimeFormat(locale(), {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZone: zone,
  });
  svg.addEventListener('pointermove', (event) => {
    const box = svg.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * svg.viewBox.baseVal.width;
    let best = data[0];
    for (const p of data) if (Math.abs(x(p.t) - px) < Math.abs(x(best.t) - px)) best = p;
    const at = x(best.t);
    marker.setAttribute('x1', at);
    marker.setAttribute('x2', at);
    const range = `${formatNumber(best.min, digits)}–${formatNumber(best.max, digits)}`;
    const when = timeFormat.format(new Date(best.t));
    text.textContent = `${when} · ${formatNumber(best.avg, digits)} (${range})`;
    const right = at > (plot.x0 + plot.x1) / 2;
    text.setAttribute('x', right ? at - 6 : at + 6);
    text.setAttribute('text-anchor', right ? 'end' : 'start');
    marker.setAttribute('visibility', 'visible');
    text.setAttribute('visibility', 'visible');
  });
  svg.addEventListener('pointerleave', () => {
    marker.setAttribute('visibility', 'hidden');
    text.setAttribute('visibility', 'hidden');
  });
}
