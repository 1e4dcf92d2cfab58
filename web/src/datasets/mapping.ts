// Column mapping for an upload no known export format matches (usage-imports contract: a 422
// `unrecognized_format` lists the file's header and the Apex fields; the retry sends `mapping`,
// a JSON object from Apex field to the file's column name).

import type { Problem, UnrecognizedFormatProblem } from '../api/types';

export type Mapping = Record<string, string>;

export function isUnrecognizedFormat(p: Problem | undefined): p is UnrecognizedFormatProblem {
  const x = p as Partial<UnrecognizedFormatProblem> | undefined;
  return !!x && x.code === 'unrecognized_format' && Array.isArray(x.columns_found) && Array.isArray(x.fields_needed);
}

const LABELS: Record<string, string> = {
  cost_usd: 'Cost (USD)',
  latency_ms: 'Latency (ms)',
  prompt_hash: 'Prompt hash',
  user_tier: 'User tier',
};

/** "input_tokens" → "Input tokens"; units in brackets. */
export function fieldLabel(field: string): string {
  if (LABELS[field]) return LABELS[field];
  const words = field.replace(/_/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');

/** Other names a column of each field often has in exports. */
const SYNONYMS: Record<string, string[]> = {
  timestamp: ['time', 'date', 'datetime', 'createdat', 'created', 'starttime', 'requesttime', 'ts'],
  model: ['modelname', 'modelid', 'deployment', 'engine'],
  input_tokens: ['prompttokens', 'inputtokencount', 'tokensin', 'promptokens', 'inputtokenscount'],
  output_tokens: ['completiontokens', 'outputtokencount', 'tokensout', 'generatedtokens'],
  cached_input_tokens: ['cachedtokens', 'cachereadtokens', 'cacheread', 'cachedprompttokens'],
  cost_usd: ['cost', 'spend', 'costusd', 'totalcost', 'price', 'amount'],
  latency_ms: ['latency', 'duration', 'durationms', 'responsetime', 'responsetimems'],
  feature: ['application', 'app', 'tag', 'project', 'route', 'endpoint', 'usecase'],
  status: ['outcome', 'result', 'level'],
  requests: ['count', 'calls', 'requestcount', 'numrequests', 'nrequests'],
};

/**
 * A first guess for each field: a column of the same name, then a known synonym, then a column
 * containing the field's words. A column is proposed for one field at most; the user corrects it.
 */
export function guessMapping(columns: string[], fields: string[]): Mapping {
  const out: Mapping = {};
  const used = new Set<string>();
  const pick = (field: string, test: (c: string) => boolean) => {
    if (out[field]) return;
    const col = columns.find((c) => !used.has(c) && test(norm(c)));
    if (col) {
      out[field] = col;
      used.add(col);
    }
  };
  for (const f of fields) pick(f, (c) => c === norm(f));
  for (const f of fields) pick(f, (c) => (SYNONYMS[f] ?? []).includes(c));
  for (const f of fields) {
    const words = f.split('_').filter((w) => w.length > 2);
    if (words.length > 1) pick(f, (c) => words.every((w) => c.includes(w)));
  }
  return out;
}

/** The required fields still without a column, and columns chosen for two fields. */
export function mappingProblems(mapping: Mapping, needed: string[]): { missing: string[]; duplicates: string[] } {
  const missing = needed.filter((f) => !mapping[f]);
  const seen = new Map<string, number>();
  for (const c of Object.values(mapping)) if (c) seen.set(c, (seen.get(c) ?? 0) + 1);
  const duplicates = [...seen.entries()].filter(([, n]) => n > 1).map(([c]) => c);
  return { missing, duplicates };
}

/** The `mapping` form field: only fields with a column, in the contract's shape. */
export function mappingJson(mapping: Mapping): string {
  return JSON.stringify(Object.fromEntries(Object.entries(mapping).filter(([, c]) => !!c)));
}
