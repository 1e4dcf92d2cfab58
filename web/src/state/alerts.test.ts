import { describe, expect, it } from 'vitest';
import type { UsageAlert } from '../api/types';
import { alertFigures, alertOfFrame, alertTitle, dismissed, emptyAlerts, loaded, MAX_ALERTS, MAX_TOASTS, mergeAlerts, readAlert, received } from './alerts';

function alert(n: number, patch: Partial<UsageAlert> = {}): UsageAlert {
  return {
    id: `alr_${String(n).padStart(3, '0')}`,
    dataset_id: 'ds_live',
    dataset_name: 'prod-app',
    kind: 'budget_projected',
    feature: null,
    month: '2026-12',
    budget_usd: 500,
    projected_usd: 620.5,
    spent_usd: 41.2,
    day: null,
    day_cost_usd: null,
    baseline_usd: null,
    message: `Alert ${n}`,
    created_at: new Date(Date.UTC(2026, 11, 1, 0, n)).toISOString(),
    ...patch,
  };
}

describe('reading alerts off the wire', () => {
  it('keeps a complete alert as it is', () => {
    const a = alert(1);
    expect(readAlert(JSON.parse(JSON.stringify(a)))).toEqual(a);
  });

  it('refuses one without id, message, time, dataset or kind', () => {
    for (const field of ['id', 'message', 'created_at', 'dataset_id', 'kind'] as const) {
      const { [field]: _gone, ...rest } = alert(1);
      expect(readAlert(rest)).toBeNull();
    }
    expect(readAlert(null)).toBeNull();
    expect(readAlert('alert')).toBeNull();
  });

  it('turns missing or mistyped figures into null, never NaN', () => {
    const a = readAlert({ ...alert(1), budget_usd: '500', projected_usd: undefined, spent_usd: null, feature: 7 });
    expect(a).toMatchObject({ budget_usd: null, projected_usd: null, spent_usd: 0, feature: null });
  });

  it('takes the alert of a usage_alert frame only', () => {
    const a = alert(2);
    expect(alertOfFrame({ type: 'usage_alert', seq: 4, payload: { alert: a } })).toEqual(a);
    expect(alertOfFrame({ type: 'usage_alert', seq: 4, payload: {} })).toBeNull();
    expect(alertOfFrame({ type: 'thread_created', payload: { alert: a } })).toBeNull();
  });
});

describe('the alert list and toasts', () => {
  it('lists each alert once, newest first, at most MAX_ALERTS', () => {
    const list = mergeAlerts([alert(1)], [alert(3), alert(2), alert(1)]);
    expect(list.map((a) => a.id)).toEqual(['alr_003', 'alr_002', 'alr_001']);
    expect(mergeAlerts(list, [alert(2)])).toBe(list);
    const many = mergeAlerts([], Array.from({ length: MAX_ALERTS + 5 }, (_, i) => alert(i)));
    expect(many).toHaveLength(MAX_ALERTS);
    expect(many[0].id).toBe(`alr_${String(MAX_ALERTS + 4).padStart(3, '0')}`);
  });

  it('toasts a live alert, not a listed one or a replay of one already seen', () => {
    let s = loaded(emptyAlerts, [alert(1)]);
    expect(s.toasts).toEqual([]);
    s = received(s, alert(1));
    expect(s.toasts).toEqual([]);
    s = received(s, alert(2));
    expect(s.toasts.map((t) => t.id)).toEqual(['alr_002']);
    expect(s.alerts.map((a) => a.id)).toEqual(['alr_002', 'alr_001']);
    expect(received(s, alert(2))).toBe(s);
  });

  it('keeps the newest MAX_TOASTS toasts and dismisses by id', () => {
    let s = emptyAlerts;
    for (let i = 1; i <= MAX_TOASTS + 2; i++) s = received(s, alert(i));
    expect(s.toasts).toHaveLength(MAX_TOASTS);
    expect(s.toasts[s.toasts.length - 1].id).toBe(`alr_${String(MAX_TOASTS + 2).padStart(3, '0')}`);
    const id = s.toasts[0].id;
    s = dismissed(s, id);
    expect(s.toasts.map((t) => t.id)).not.toContain(id);
    expect(s.alerts.map((a) => a.id)).toContain(id);
    expect(dismissed(s, 'alr_unknown')).toBe(s);
  });

  it('words each kind with its figures', () => {
    expect(alertTitle(alert(1))).toBe('prod-app: 2026-12 projected over budget');
    expect(alertFigures(alert(1))).toBe('projected $620.50 of a $500.00 budget; $41.20 spent');
    const feature = alert(2, { kind: 'feature_budget_projected', feature: 'faq-bot' });
    expect(alertTitle(feature)).toBe('prod-app / faq-bot: 2026-12 projected over budget');
    const spike = alert(3, { kind: 'daily_spike', day: '2026-12-01', day_cost_usd: 90, baseline_usd: 20, budget_usd: null, projected_usd: null });
    expect(alertTitle(spike)).toBe('prod-app: spend spike on 2026-12-01');
    expect(alertFigures(spike)).toBe('$90.00 that day vs $20.00 usual');
  });
});
