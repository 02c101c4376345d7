// What a referral carries, in words: the alert or NEWS2 that triggered it, values with units,
// times in the site's time zone (never the stored ISO strings or a rule's raw values), a
// compact table with a sparkline per vital sign, and the FHIR export as a file download.
import { h, s } from './dom.js';
import { formatNumber, valueKey } from './format.js';
import { has, label, locale, t } from './i18n.js';
import { apiFetch, detailOf } from './session.js';

const METRICS = ['hr', 'spo2', 'rr', 'temp', 'sbp'];
const DIGITS = { temp: 1 };
const ACVPU = 'ACVPU';

/** "12月7日 23:05" (zh) or "7 Dec, 23:05" (en) in the site's time zone. */
export function siteTime(iso, zone) {
  if (!iso) return '—';
  const options = { month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit' };
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: zone, hour12: false }).format(
      new Date(iso),
    );
  } catch {
    // An unknown zone name: the browser's own zone rather than nothing.
    return new Intl.DateTimeFormat(locale(), { ...options, hour12: false }).format(new Date(iso));
  }
}

function withUnit(metric, value) {
  if (value === null || value === undefined) return '—';
  if (metric === 'acvpu') return ACVPU[Math.round(value)] ?? String(value);
  if (metric === 'on_o2') return t(value ? 'news2.on_o2_yes' : 'news2.on_o2_no');
  const number = formatNumber(value, DIGITS[metric] ?? 0);
  return label('unit.', metric) === metric ? number : `${number} ${t(`unit.${metric}`)}`;
}

/** "NEWS2 8（高风险）：呼吸频率 26 次/分（3），血氧饱和度 91 %（3）…" from the snapshot. */
export function news2Words(news2) {
  if (!news2) return null;
  const total = news2.total ?? news2.partial_total;
  const band = news2.band ? t(`band.${news2.band}`) : t('news2.incomplete');
  const parts = news2.sub_scores
    .filter((part) => part.reading && part.score > 0)
    .map((part) =>
      t('referrals.news2_part', {
        name: label('param.', part.parameter),
        value: withUnit(part.parameter, part.reading.value),
        score: part.score,
      }),
    );
  return t(parts.length ? 'referrals.news2_words' : 'referrals.news2_total', {
    total: news2.total === null ? `≥${total}` : total,
    band,
    parts: parts.join(t('referrals.list_separator')),
  });
}

/** The alert's figures the catalogue names ("冲击 3.1 g", "当前 88 %"); a vital sign's rule
 * (`vital.spo2.low`) gives its values the sign's unit. Ids, times and raw keys stay out. */
export function alertValues(alert) {
  const metric = /^vital\.(\w+)\./.exec(alert.rule_id)?.[1];
  const withSign = new Set(['value', 'worst', 'limit', 'observed', 'baseline']);
  return Object.entries(alert.values || {})
    .filter(([key, value]) => typeof value === 'number' && has(`value.${key}`))
    .map(([key, value]) =>
      t(valueKey(key, alert.rule_id), {
        value:
          metric && withSign.has(key) ? withUnit(metric, value) : Math.round(value * 10) / 10,
      }),
    )
    .join(t('referrals.list_separator'));
}

/** A referral's reason in this page's language without its snapshot: a rule's from the stored
 * code; a nurse's own words, or a row from before the codes, as stored. */
export function reasonText(referral) {
  const params = referral.reason_params || {};
  if (referral.reason_code === 'alert' && typeof params.rule === 'string') {
    const { rule, ...values } = params;
    const name = label('rule.', rule);
    const figures = alertValues({ rule_id: rule, values });
    return figures
      ? t('referrals.reason.alert_values', { rule: name, values: figures })
      : t('referrals.reason.alert', { rule: name });
  }
  return referral.reason || t(`referrals.because.${referral.trigger}`);
}

/** Why the referral was opened: a nurse's own words, or the rule's alert and NEWS2 in words. */
export function reasonWords(referral, detail) {
  if (referral.trigger === 'staff') return [h('p', { class: 'reason' }, referral.reason)];
  const zone = referral.timezone;
  const alerts = detail ? detail.snapshot.alerts : [];
  const cause = alerts.find((a) => a.alert_id === referral.alert_id) ?? null;
  const lines = [
    h(
      'p',
      { class: 'reason' },
      cause
        ? t('referrals.because_alert', {
            rule: label('rule.', cause.rule_id),
            severity: label('severity.', cause.severity),
            when: siteTime(cause.ts, zone),
          })
        : reasonText(referral),
    ),
  ];
  const figures = cause ? alertValues(cause) : '';
  if (figures) lines.push(h('p', { class: 'reason-values' }, figures));
  const score = detail ? news2Words(detail.snapshot.news2) : null;
  if (score) lines.push(h('p', { class: 'reason-news2' }, score));
  const others = alerts.filter((a) => a !== cause);
  if (others.length) {
    const names = others.map((a) => label('rule.', a.rule_id)).join(t('referrals.list_separator'));
    lines.push(h('p', { class: 'muted' }, t('referrals.other_alerts', { list: names })));
  }
  return lines;
}

function sparkline(points) {
  const width = 96;
  const height = 22;
  if (points.length < 2) return s('svg', { class: 'spark', width, height, 'aria-hidden': 'true' });
  const times = points.map((p) => p.t);
  const values = points.map((p) => p.v);
  const [t0, t1] = [Math.min(...times), Math.max(...times)];
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const x = (time) => (t1 === t0 ? 0 : ((time - t0) / (t1 - t0)) * (width - 2) + 1);
  const y = (value) =>
    hi === lo ? height / 2 : height - 2 - ((value - lo) / (hi - lo)) * (height - 4);
  const path = points.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`);
  return s(
    'svg',
    { class: 'spark', width, height, viewBox: `0 0 ${width} ${height}`, 'aria-hidden': 'true' },
    s('path', { d: path.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }),
  );
}

/** The snapshot's vitals: per sign the last value, the 24 h range and a sparkline. */
export function vitalsTable(snapshot, zone) {
  const series = new Map(METRICS.map((m) => [m, []]));
  for (const v of snapshot.vitals) {
    series.get(v.metric)?.push({ t: new Date(v.ts).getTime(), v: v.value, ts: v.ts });
  }
  const rows = METRICS.filter((m) => series.get(m).length).map((metric) => {
    const points = series.get(metric).sort((a, b) => a.t - b.t);
    const last = points[points.length - 1];
    const values = points.map((p) => p.v);
    return h(
      'tr',
      { dataset: { metric } },
      h('th', { scope: 'row' }, label('metric.', metric)),
      h('td', { class: 'num' }, withUnit(metric, last.v)),
      h(
        'td',
        { class: 'num muted' },
        t('referrals.range', {
          low: withUnit(metric, Math.min(...values)),
          high: withUnit(metric, Math.max(...values)),
        }),
      ),
      h('td', {}, sparkline(points)),
      h('td', { class: 'muted' }, siteTime(last.ts, zone)),
    );
  });
  if (!rows.length) return h('p', { class: 'muted snapshot-empty' }, t('referrals.no_vitals'));
  return h(
    'table',
    { class: 'snapshot' },
    h('caption', {}, t('referrals.snapshot')),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['snapshot_sign', 'snapshot_last', 'snapshot_range', 'snapshot_trend', 'snapshot_time'].map(
          (key) => h('th', { scope: 'col' }, t(`referrals.${key}`)),
        ),
      ),
    ),
    h('tbody', {}, rows),
  );
}

/** Fetch the FHIR Bundle (the API wants the bearer token) and hand it over as a file. */
export async function downloadFhir(referralId) {
  const response = await apiFetch(`/api/v1/referrals/${referralId}/fhir`);
  if (!response.ok) throw new Error(await detailOf(response));
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: `referral-${referralId}.fhir.json`, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The history of steps, each with who took it, when (site time) and the note. */
export function historyList(detail, zone) {
  return h(
    'ol',
    { class: 'referral-history' },
    detail.history
      .filter((step) => !step.action.startsWith('referral.sla.'))
      .map((step) =>
        h(
          'li',
          {},
          h('span', { class: 'muted' }, siteTime(step.at, zone)),
          ' ',
          t(`state.${step.to_state}`),
          step.actor ? ` · ${step.actor.id}` : ` · ${t('referrals.by_system')}`,
          step.note ? ` · “${step.note}”` : '',
        ),
      ),
  );
}
