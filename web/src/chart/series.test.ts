import { describe, expect, it } from 'vitest';
import type { DailyCost } from '../api/types';
import { daily } from '../test/fixtures';
import { describeTrend, MAX_SERIES, niceMax, OTHER, stackDaily } from './series';

describe('stackDaily', () => {
  it('stacks each day by model, biggest series first, bars as high as the day cost', () => {
    const s = stackDaily(daily, 'model');
    expect(s.series).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(s.bars.map((b) => b.date)).toEqual(['2026-11-01', '2026-11-02', '2026-11-03', '2026-11-04']);
    const first = s.bars[0];
    expect(first.segments.map((x) => [x.series, x.start, x.value])).toEqual([
      ['gpt-4o', 0, 2.9],
      ['gpt-4o-mini', 2.9, 0.2],
    ]);
    expect(first.total).toBeCloseTo(3.1);
    expect(s.max).toBeCloseTo(3.4);
  });

  it('stacks by feature and puts the uncovered part of a day in Other', () => {
    const s = stackDaily(daily, 'feature');
    expect(s.series).toEqual(['support-chat', 'nightly-report', OTHER]);
    const last = s.bars[3];
    // 3.4 total, 3.0 + 0.2 split: 0.2 without a feature.
    expect(last.segments.find((x) => x.series === OTHER)?.value).toBeCloseTo(0.2);
    expect(last.total).toBeCloseTo(3.4);
    expect(s.bars[0].segments.some((x) => x.series === OTHER)).toBe(false);
  });

  it('sorts days, ignores bad numbers and folds series beyond the limit into Other', () => {
    const points: DailyCost[] = [];
    for (let d = 9; d >= 1; d--) {
      const by_model: Record<string, number> = {};
      for (let m = 0; m < 9; m++) by_model[`m${m}`] = m + 1;
      by_model.bad = Number.NaN;
      points.push({ date: `2026-01-0${d}`, calls: 1, cost_usd: 45, by_model });
    }
    const s = stackDaily(points, 'model');
    expect(s.bars[0].date).toBe('2026-01-01');
    expect(s.series).toHaveLength(MAX_SERIES);
    expect(s.series[0]).toBe('m8');
    expect(s.series.at(-1)).toBe(OTHER);
    // m0..m3 (1+2+3+4) are Other.
    expect(s.bars[0].segments.find((x) => x.series === OTHER)?.value).toBe(10);
    expect(s.bars[0].total).toBe(45);
  });

  it('handles missing splits and an empty series', () => {
    expect(stackDaily([], 'model')).toEqual({ series: [], bars: [], max: 0 });
    const s = stackDaily([{ date: '2026-01-01', cost_usd: 2 }], 'feature');
    expect(s.series).toEqual([OTHER]);
    expect(s.bars[0].total).toBe(2);
  });
});

describe('niceMax and describeTrend', () => {
  it('rounds the axis up', () => {
    expect(niceMax(3.4)).toBe(5);
    expect(niceMax(0.9)).toBe(1);
    expect(niceMax(120)).toBe(200);
    expect(niceMax(0)).toBe(1);
  });

  it('summarises span, total, peak, direction and the largest series', () => {
    const text = describeTrend(stackDaily(daily, 'model'), 'Daily cost');
    expect(text).toBe('Daily cost from 2026-11-01 to 2026-11-04 (4 days): $12.05 in total, highest $3.40 on 2026-11-04. Spend rises by about 6%. Largest share: gpt-4o.');
    expect(describeTrend(stackDaily([], 'model'))).toBe('Daily cost: no data.');
    const falling = stackDaily(
      [
        { date: '2026-01-01', cost_usd: 10 },
        { date: '2026-01-02', cost_usd: 4 },
      ],
      'model',
    );
    expect(describeTrend(falling)).toContain('Spend falls by about 60%.');
    const hourly = stackDaily(
      [
        { date: '2026-01-01T10:00', cost_usd: 1 },
        { date: '2026-01-01T11:00', cost_usd: 1 },
      ],
      'model',
    );
    expect(describeTrend(hourly, 'Hourly cost', 'hour')).toBe(
      'Hourly cost from 2026-01-01T10:00 to 2026-01-01T11:00 (2 hours): $2.00 in total, highest $1.00 at 2026-01-01T10:00. Spend is about flat. Largest share: Other.',
    );
  });
});
