// Reports and follow-up results in the shape of the conversation contract (report.cost_analysis.daily,
// report.follow_ups, result.trend), for component and unit tests.

import type { DailyCost, FollowUpResult, Report } from '../api/types';

export const daily: DailyCost[] = [
  { date: '2026-11-01', calls: 40, cost_usd: 3.1, by_model: { 'gpt-4o': 2.9, 'gpt-4o-mini': 0.2 }, by_feature: { 'support-chat': 2.9, 'nightly-report': 0.2 } },
  { date: '2026-11-02', calls: 36, cost_usd: 2.75, by_model: { 'gpt-4o': 2.6, 'gpt-4o-mini': 0.15 }, by_feature: { 'support-chat': 2.6, 'nightly-report': 0.15 } },
  { date: '2026-11-03', calls: 35, cost_usd: 2.8, by_model: { 'gpt-4o': 2.6, 'gpt-4o-mini': 0.2 }, by_feature: { 'support-chat': 2.6, 'nightly-report': 0.2 } },
  { date: '2026-11-04', calls: 34, cost_usd: 3.4, by_model: { 'gpt-4o': 3.2, 'gpt-4o-mini': 0.2 }, by_feature: { 'support-chat': 3.0, 'nightly-report': 0.2 } },
];

export const report: Report = {
  summary: 'You spend about $90/month.',
  cost_analysis: {
    period_days: 4,
    monthly_cost_usd: 90.4,
    calls: 145,
    by_model: [{ model: 'gpt-4o', monthly_cost_usd: 85, share: 0.94 }],
    by_feature: [{ feature: 'support-chat', monthly_cost_usd: 84, share: 0.93 }],
    daily,
  },
  recommendations: [{ id: 'cache', title: 'Cache exact repeats', monthly_savings_usd: 12, effort: 'low', risk: 'low', confidence: 'high' }],
  potential_savings: { monthly_amount: 12, annual_amount: 144, percent: 13.3 },
  action_plan: [{ order: 1, recommendation_id: 'cache', week: 1 }],
  follow_ups: ['What if we only did the caching change?', 'Show the daily cost trend for support-chat'],
};

export const trendResult: FollowUpResult = {
  intent: 'follow_up',
  kind: 'cost_trend',
  dataset_id: 'ds_1',
  follow_ups: ['Compare gpt-4o-mini and claude-haiku-4-5 for support-chat'],
  trend: { granularity: 'day', scope: 'feature', name: 'support-chat', points: daily.map((d) => {
      const c = d.by_feature?.['support-chat'] ?? 0;
      return { date: d.date, calls: d.calls, cost_usd: c, by_model: { 'gpt-4o': c }, by_feature: { 'support-chat': c } };
    }) },
};
