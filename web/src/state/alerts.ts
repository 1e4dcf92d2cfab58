// Usage alerts as the app keeps them: the recent list (GET /api/alerts merged with live `usage_alert`
// events) and the toasts of alerts that arrived while the app was open.

import type { Envelope, UsageAlert } from '../api/types';

/** How many alerts the recent list keeps. */
export const MAX_ALERTS = 50;
/** How many toasts stay on screen at once; older ones leave first. */
export const MAX_TOASTS = 3;

export interface AlertState {
  alerts: UsageAlert[];
  toasts: UsageAlert[];
}

export const emptyAlerts: AlertState = { alerts: [], toasts: [] };

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const str = (v: unknown): v is string => typeof v === 'string';
const numOrNull = (v: unknown): number | null => (num(v) ? v : null);
const strOrNull = (v: unknown): string | null => (str(v) ? v : null);

/** The alert of a wire object, or null when it lacks what the app shows (id, dataset, message, time). */
export function readAlert(value: unknown): UsageAlert | null {
  if (typeof value !== 'object' || value === null) return null;
  const a = value as Record<string, unknown>;
  if (!str(a.id) || !str(a.message) || !str(a.created_at) || !str(a.dataset_id) || !str(a.kind)) return null;
  return {
    id: a.id,
    dataset_id: a.dataset_id,
    dataset_name: str(a.dataset_name) ? a.dataset_name : a.dataset_id,
    kind: a.kind,
    feature: strOrNull(a.feature),
    month: str(a.month) ? a.month : '',
    budget_usd: numOrNull(a.budget_usd),
    projected_usd: numOrNull(a.projected_usd),
    spent_usd: num(a.spent_usd) ? a.spent_usd : 0,
    day: strOrNull(a.day),
    day_cost_usd: numOrNull(a.day_cost_usd),
    baseline_usd: numOrNull(a.baseline_usd),
    message: a.message,
    created_at: a.created_at,
  };
}

/** The alert a `usage_alert` frame carries, or null for any other frame or a malformed one. */
export function alertOfFrame(frame: Envelope): UsageAlert | null {
  return frame.type === 'usage_alert' ? readAlert(frame.payload?.alert) : null;
}

function newestFirst(a: UsageAlert, b: UsageAlert): number {
  const t = Date.parse(b.created_at) - Date.parse(a.created_at);
  return Number.isNaN(t) || t === 0 ? b.id.localeCompare(a.id) : t;
}

/** Adds alerts to the list once each (by id), newest first, at most MAX_ALERTS. */
export function mergeAlerts(list: UsageAlert[], incoming: UsageAlert[]): UsageAlert[] {
  const byId = new Map(list.map((a) => [a.id, a]));
  let changed = false;
  for (const a of incoming) {
    if (!byId.has(a.id)) {
      byId.set(a.id, a);
      changed = true;
    }
  }
  return changed ? [...byId.values()].sort(newestFirst).slice(0, MAX_ALERTS) : list;
}

/** The alerts listed over REST: merged, no toast (they are not news). */
export function loaded(state: AlertState, alerts: UsageAlert[]): AlertState {
  const merged = mergeAlerts(state.alerts, alerts);
  return merged === state.alerts ? state : { ...state, alerts: merged };
}

/** An alert that arrived live: listed and toasted, unless it is already known (a replay). */
export function received(state: AlertState, alert: UsageAlert): AlertState {
  if (state.alerts.some((a) => a.id === alert.id)) return state;
  return { alerts: mergeAlerts(state.alerts, [alert]), toasts: [...state.toasts, alert].slice(-MAX_TOASTS) };
}

export function dismissed(state: AlertState, id: string): AlertState {
  return state.toasts.some((t) => t.id === id) ? { ...state, toasts: state.toasts.filter((t) => t.id !== id) } : state;
}

const usd = (v: number) => `$${v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

/** A short label of what the alert is about, for the list. */
export function alertTitle(a: UsageAlert): string {
  switch (a.kind) {
    case 'budget_projected':
      return `${a.dataset_name}: ${a.month} projected over budget`;
    case 'feature_budget_projected':
      return `${a.dataset_name} / ${a.feature ?? 'feature'}: ${a.month} projected over budget`;
    case 'daily_spike':
      return `${a.dataset_name}: spend spike${a.day ? ` on ${a.day}` : ''}`;
    default:
      return `${a.dataset_name}: usage alert`;
  }
}

/** The figures of the alert in words (projected vs budget, or the day vs its baseline). */
export function alertFigures(a: UsageAlert): string {
  if (a.kind === 'daily_spike' && a.day_cost_usd !== null) {
    return a.baseline_usd !== null ? `${usd(a.day_cost_usd)} that day vs ${usd(a.baseline_usd)} usual` : `${usd(a.day_cost_usd)} that day`;
  }
  if (a.projected_usd !== null && a.budget_usd !== null) return `projected ${usd(a.projected_usd)} of a ${usd(a.budget_usd)} budget; ${usd(a.spent_usd)} spent`;
  return `${usd(a.spent_usd)} spent`;
}
