// Shapes a daily cost series (report.cost_analysis.daily, or a cost_trend follow-up's points) into
// stacked bars: one bar per day, one segment per model or feature. Pure, so the numbers a chart
// draws and the table beside it read are unit-tested without a browser.

import type { DailyCost } from '../api/types';
import { usd } from '../report/export';

export type StackBy = 'model' | 'feature';

/** Series beyond this many are drawn as one "Other" segment: more colours than this are unreadable. */
export const MAX_SERIES = 6;
export const OTHER = 'Other';

export interface Segment {
  series: string;
  value: number;
  /** Sum of the segments below this one in its bar. */
  start: number;
}

export interface Bar {
  date: string;
  calls: number;
  total: number;
  segments: Segment[];
}

export interface StackedSeries {
  /** Series names, biggest total first, `Other` last when present. */
  series: string[];
  bars: Bar[];
  /** The largest bar total (0 when there is no spend at all). */
  max: number;
}

const finite = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/**
 * Stacks each day's cost by model or feature. The part of a day's `cost_usd` its split does not
 * cover (rows without a feature, rounding) goes to `Other`, so each bar's height is the day's cost.
 */
export function stackDaily(points: DailyCost[], by: StackBy, maxSeries = MAX_SERIES): StackedSeries {
  const sorted = [...points].filter((p) => p && typeof p.date === 'string').sort((a, b) => a.date.localeCompare(b.date));
  const key = by === 'model' ? 'by_model' : 'by_feature';
  const totals = new Map<string, number>();
  for (const p of sorted) {
    for (const [name, v] of Object.entries(p[key] ?? {})) totals.set(name, (totals.get(name) ?? 0) + finite(v));
  }
  const ranked = [...totals.entries()].filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const overflow = ranked.length > maxSeries;
  const kept = (overflow ? ranked.slice(0, maxSeries - 1) : ranked).map(([n]) => n);
  const keptSet = new Set(kept);
  let usesOther = false;

  const bars: Bar[] = sorted.map((p) => {
    const split = p[key] ?? {};
    const values = new Map<string, number>(kept.map((n) => [n, finite(split[n])]));
    let other = 0;
    for (const [name, v] of Object.entries(split)) if (!keptSet.has(name)) other += finite(v);
    const splitSum = [...values.values()].reduce((a, b) => a + b, 0) + other;
    const total = Math.max(finite(p.cost_usd), splitSum);
    // Cents of rounding are not worth an "Other" segment of their own.
    const rest = total - splitSum;
    if (rest > Math.max(0.005, total * 0.001)) other += rest;
    if (other > 0) usesOther = true;
    let start = 0;
    const segments: Segment[] = [];
    for (const [series, value] of [...values.entries(), [OTHER, other] as [string, number]]) {
      if (value <= 0) continue;
      segments.push({ series, value, start });
      start += value;
    }
    return { date: p.date, calls: finite(p.calls), total: start, segments };
  });

  return { series: usesOther ? [...kept, OTHER] : kept, bars, max: bars.reduce((m, b) => Math.max(m, b.total), 0) };
}

/** A round axis maximum (1, 2, 2.5 or 5 times a power of ten) at or above `max`. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const pow = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= max - 1e-9) return m * pow;
  return 10 * pow;
}

/** A sentence for screen readers: span, total, highest day and the direction of the trend. */
export function describeTrend(s: StackedSeries, subject = 'Daily cost', unit: 'day' | 'hour' = 'day'): string {
  const bars = s.bars;
  if (bars.length === 0) return `${subject}: no data.`;
  const first = bars[0];
  const last = bars[bars.length - 1];
  const total = bars.reduce((a, b) => a + b.total, 0);
  const peak = bars.reduce((m, b) => (b.total > m.total ? b : m), first);
  const span = bars.length === 1 ? `on ${first.date}` : `from ${first.date} to ${last.date} (${bars.length} ${unit}${bars.length > 1 ? 's' : ''})`;
  let direction = '';
  if (bars.length >= 2) {
    // Halves rather than first and last day: one odd day does not decide the direction.
    const half = Math.floor(bars.length / 2);
    const mean = (xs: Bar[]) => xs.reduce((a, b) => a + b.total, 0) / Math.max(1, xs.length);
    const early = mean(bars.slice(0, half));
    const late = mean(bars.slice(bars.length - half));
    const change = early > 0 ? (late - early) / early : late > 0 ? 1 : 0;
    direction =
      Math.abs(change) < 0.05 ? ' Spend is about flat.' : change > 0 ? ` Spend rises by about ${Math.round(change * 100)}%.` : ` Spend falls by about ${Math.round(-change * 100)}%.`;
  }
  const biggest = s.series.length > 0 ? ` Largest share: ${s.series[0]}.` : '';
  return `${subject} ${span}: ${usd(total)} in total, highest ${usd(peak.total)} ${unit === 'hour' ? 'at' : 'on'} ${peak.date}.${direction}${biggest}`;
}
