// The vital-sign rules' default limits (docs/detection.md, rules/vitals.py), drawn as lines
// on the trend charts, with the resident's own overrides from the admission assessment.
// A limit breaches when the value is below a low limit or above a high one.

const DEFAULTS = {
  hr: { low: 41, high: 120 },
  spo2: { low: 90 },
  spo2_scale2: { low: 85 },
  rr: { low: 8, high: 25 },
  temp: { low: 35.0 },
  sbp: { low: 90, high: 180 },
  dbp: { high: 120 },
};
// The fever rule's single-reading criterion (IDSA long-term care): one reading over 37.8 °C.
const FEVER = 37.8;

function flatten(value, prefix = '', out = {}) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) {
      flatten(inner, prefix ? `${prefix}.${key}` : key, out);
    }
  } else out[prefix] = value;
  return out;
}

/** [{value, side: 'low' | 'high' | 'fever'}] for a metric of this resident. */
export function thresholdsFor(metric, resident) {
  // Scale 2 is the clinician's NEWS2 setting (confirmed hypercapnic respiratory failure),
  // never inferred from a diagnosis such as COPD: as rules/vitals.py.
  const scale2 = resident?.news2_scale === 2;
  const key = metric === 'spo2' && scale2 ? 'spo2_scale2' : metric;
  const overrides = flatten(resident?.rule_overrides || {});
  const lines = [];
  for (const side of ['low', 'high']) {
    const own = overrides[`vitals.${key}.${side}.threshold`];
    const value = typeof own === 'number' ? own : DEFAULTS[key]?.[side];
    if (typeof value === 'number') lines.push({ value, side });
  }
  if (metric === 'temp') lines.push({ value: FEVER, side: 'fever' });
  return lines;
}
