// The API's refusals of a form (400, 403, 404, 409, 422) as sentences in the reader's
// language: each field named from the page's catalogue, the problem from `programme.error.*`
// or `error_type.*`, the server's own words only for a problem the catalogue lacks.
import { has, t } from './i18n.js';
import { apiFetch } from './session.js';

// Messages our own validators send (FastAPI's `value_error`), by a phrase they contain.
const KNOWN = [
  ['end_on is before start_on', 'programme.error.end_before_start'],
  ['is not an active family_doctor login', 'programme.error.not_family_doctor'],
  ['charted within a week', 'programme.error.visit_time'],
  ['cannot be null', 'programme.error.missing'],
];

export class FormProblem extends Error {
  constructor(status, lines) {
    super(lines.join('；'));
    this.status = status;
    this.lines = lines;
  }
}

function problemText(problem) {
  const known = KNOWN.find(([phrase]) => String(problem.msg).includes(phrase));
  if (known) return t(known[1]);
  for (const key of [`programme.error_type.${problem.type}`, `error_type.${problem.type}`]) {
    if (has(key)) return t(key);
  }
  return problem.msg;
}

function lineOf(problem, fieldPrefix) {
  const loc = problem.loc || [];
  const name = loc.length > 1 ? loc[loc.length - 1] : null;
  const text = problemText(problem);
  const key = `${fieldPrefix}${name}`;
  return name !== null && has(key) ? `${t(key)}：${text}` : text;
}

async function linesOf(response, fieldPrefix) {
  let detail = null;
  try {
    ({ detail } = await response.json());
  } catch {
    // no JSON body: the status alone says it
  }
  if (Array.isArray(detail)) return detail.map((p) => lineOf(p, fieldPrefix));
  const words = typeof detail === 'string' ? detail : response.statusText;
  const key = `programme.error.http_${response.status}`;
  return [has(key) ? t(key, { detail: words }) : t('common.error', { detail: words })];
}

/** Send a form's body; its JSON answer, or a FormProblem with one line per problem. */
export async function send(path, { method = 'POST', json, fieldPrefix = '' } = {}) {
  const response = await apiFetch(path, { method, json });
  if (!response.ok) throw new FormProblem(response.status, await linesOf(response, fieldPrefix));
  return response.status === 204 ? null : response.json();
}
