import { describe, expect, it } from 'vitest';
import type { Report } from '../api/types';
import { reportToCsv, reportToJson, reportToMarkdown } from './export';

const report: Report = {
  summary: 'You spend about $4,210/month; 2 changes cut that by $1,100.',
  cost_analysis: {
    period_days: 7,
    monthly_cost_usd: 4210.5,
    calls: 81234,
    by_model: [{ model: 'gpt-4o', monthly_cost_usd: 3100.2, share: 0.74 }],
    by_feature: [{ feature: 'support-chat', monthly_cost_usd: 2500, share: 0.59 }],
  },
  recommendations: [
    { id: 'cache', title: 'Cache "exact" repeats, now', monthly_savings_usd: 910, effort: 'low', risk: 'low', confidence: 'high' },
    { id: 'switch', title: '=HYPERLINK("x")', monthly_savings_usd: 190, effort: 'medium', risk: 'medium', confidence: 'medium' },
  ],
  potential_savings: { monthly_amount: 1100, annual_amount: 13200, percent: 26.1 },
  action_plan: [
    { order: 2, recommendation_id: 'switch', week: 2 },
    { order: 1, recommendation_id: 'cache', week: 1 },
  ],
  assumptions: ['Prices from the catalog.'],
  estimate: false,
};

describe('report export', () => {
  it('Markdown has the figures, table and plan in order', () => {
    const md = reportToMarkdown(report);
    expect(md).toContain('Monthly cost: $4,211');
    expect(md).toContain('$1,100/month (26.1%)');
    expect(md).toContain('| 1 | Cache "exact" repeats, now | $910 | low | low | high |');
    expect(md.indexOf('1. Week 1: Cache')).toBeLessThan(md.indexOf('2. Week 2:'));
  });

  it('JSON round-trips', () => {
    expect(JSON.parse(reportToJson(report))).toEqual(report);
  });

  it('CSV quotes fields and neutralises formulas', () => {
    const lines = reportToCsv(report).trim().split('\r\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('1,1,cache,,"Cache ""exact"" repeats, now",910,low,low,high,');
    expect(lines[2]).toContain(`"'=HYPERLINK(""x"")"`);
  });

  it('Markdown writes dataset text as text, not HTML', () => {
    const evil: Report = {
      ...report,
      summary: 'Spend is in <img src=x onerror=alert(1)> & **support**.',
      cost_analysis: {
        ...report.cost_analysis,
        by_model: [{ model: '<script>alert(2)</script>', monthly_cost_usd: 1, share: 0.1 }],
        by_feature: [{ feature: '<img src=x onerror=alert(3)>', monthly_cost_usd: 2, share: 0.2 }],
        daily: [{ date: '2026-11-01', calls: 3, cost_usd: 1.5, by_feature: { '<b>x</b>': 1.5 } }],
      },
      recommendations: [{ id: 'r1', title: 'Move <iframe src=//evil> to mini', monthly_savings_usd: 1 }],
      action_plan: [{ order: 1, recommendation_id: 'r1', week: 1 }],
      follow_ups: ['Why <svg onload=alert(4)>?'],
      assumptions: ['<a href="javascript:x">'],
    };
    const md = reportToMarkdown(evil);
    expect(md).not.toMatch(/<(img|script|iframe|svg|a|b)\b/i);
    expect(md).toContain('Spend is in &lt;img src=x onerror=alert(1)&gt; &amp; **support**.');
    expect(md).toContain('| &lt;script&gt;alert(2)&lt;/script&gt; |');
    expect(md).toContain('| &lt;img src=x onerror=alert(3)&gt; |');
    expect(md).toContain('1. Week 1: Move &lt;iframe src=//evil&gt; to mini');
    expect(md).toContain('- Why &lt;svg onload=alert(4)&gt;?');
    expect(md).toContain('| 2026-11-01 | 3 | $1.50 |');
  });
});
