// What a user needs to point an app's OpenTelemetry exporter at Apex, and the budget form's rules.

import type { Budget, BudgetInput } from '../api/types';

/** The OTLP/HTTP traces URL of this Apex (contract E: POST /v1/traces). */
export function otlpEndpoint(origin: string): string {
  return `${origin.replace(/\/+$/, '')}/v1/traces`;
}

/**
 * Environment lines for any OpenTelemetry SDK. The key goes in `x-api-key` (accepted like the
 * Authorization header) because a header value with a space must be percent-encoded in
 * OTEL_EXPORTER_OTLP_HEADERS, which SDKs do not all decode.
 */
export function otlpEnvironment(origin: string, key: string): string {
  return [
    'OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
    `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=${otlpEndpoint(origin)}`,
    `OTEL_EXPORTER_OTLP_HEADERS=x-api-key=${key}`,
  ].join('\n');
}

export const KEY_NAME_MAX = 100;

/** The error of an ingest key name, or null when it is fine (1-100 characters). */
export function keyNameError(name: string): string | null {
  const n = name.trim();
  if (!n) return 'Give the key a name, e.g. the app that sends the spans.';
  if (n.length > KEY_NAME_MAX) return `At most ${KEY_NAME_MAX} characters.`;
  return null;
}

/** The budget form as typed: strings, so half-typed numbers survive re-renders. */
export interface BudgetDraft {
  monthly: string;
  features: { name: string; usd: string }[];
  webhookUrl: string;
  spikeFactor: string;
}

export const emptyDraft: BudgetDraft = { monthly: '', features: [], webhookUrl: '', spikeFactor: '' };

export function draftOf(b: Budget | null): BudgetDraft {
  if (!b) return emptyDraft;
  return {
    monthly: String(b.monthly_usd),
    features: Object.entries(b.features ?? {}).map(([name, usd]) => ({ name, usd: String(usd) })),
    webhookUrl: b.webhook_url ?? '',
    spikeFactor: b.spike_factor !== null && b.spike_factor !== undefined ? String(b.spike_factor) : '',
  };
}

export type BudgetErrors = Partial<Record<'monthly' | 'features' | 'webhookUrl' | 'spikeFactor', string>>;

function isHttpUrl(text: string): boolean {
  try {
    const u = new URL(text);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

function amount(text: string): number | null {
  const t = text.trim().replace(/^\$/, '').replace(/,/g, '');
  if (!/^\d+(\.\d{1,2})?$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** The PUT body of a draft, or the errors to show next to each field. */
export function budgetInput(d: BudgetDraft): { input: BudgetInput } | { errors: BudgetErrors } {
  const errors: BudgetErrors = {};
  const monthly = amount(d.monthly);
  if (monthly === null) errors.monthly = 'A monthly budget in US dollars greater than 0, e.g. 500.';

  const features: Record<string, number> = {};
  for (const row of d.features) {
    const name = row.name.trim();
    if (!name && !row.usd.trim()) continue;
    const usd = amount(row.usd);
    if (!name || usd === null) {
      errors.features = 'Each feature budget needs the feature name and an amount greater than 0.';
      break;
    }
    if (name in features) {
      errors.features = `The feature ${name} is listed twice.`;
      break;
    }
    features[name] = usd;
  }

  const webhook = d.webhookUrl.trim();
  if (webhook) {
    if (!isHttpUrl(webhook)) errors.webhookUrl = 'An absolute https:// URL, e.g. https://hooks.example.com/apex.';
  }

  let spike: number | undefined;
  if (d.spikeFactor.trim()) {
    const v = Number(d.spikeFactor.trim());
    if (!Number.isFinite(v) || v <= 1) errors.spikeFactor = 'A factor greater than 1, e.g. 3 for three times the usual daily spend.';
    else spike = v;
  }

  if (Object.keys(errors).length > 0) return { errors };
  const input: BudgetInput = { monthly_usd: monthly! };
  if (Object.keys(features).length > 0) input.features = features;
  if (webhook) input.webhook_url = webhook;
  if (spike !== undefined) input.spike_factor = spike;
  return { input };
}
