import { useEffect, useId, useMemo, useRef, useState, type RefObject } from 'react';
import type { DailyCost } from '../api/types';
import { describeTrend, niceMax, OTHER, stackDaily, type StackBy } from '../chart/series';
import { usd } from '../report/export';

// Inline SVG: a stacked bar per day is a few dozen rects, not worth a charting library's weight in
// the initial bundle. Colours come from CSS custom properties, so both themes restyle it.
const DEFAULT_W = 640;
const H = 220;
const M = { top: 10, right: 8, bottom: 26, left: 56 };
const PLOT_H = H - M.top - M.bottom;

/**
 * The figure's width in CSS pixels, so the drawing is made at its real size: labels keep their
 * font size on a phone instead of shrinking with a scaled viewBox.
 */
function useWidth(ref: RefObject<HTMLElement | null>): number {
  const [width, setWidth] = useState(DEFAULT_W);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver((entries) => {
      const w = Math.round(entries[0]?.contentRect.width ?? 0);
      if (w > 0) setWidth(Math.max(260, Math.min(1200, w)));
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return width;
}

function seriesClass(series: string[], name: string): string {
  return name === OTHER ? 'series-other' : `series-${series.indexOf(name) % 6}`;
}

function shortDate(date: string): string {
  // "2026-11-03" → "11-03"; an hourly key keeps its time ("2026-11-03T14:00" → "03 14:00").
  const hour = /^\d{4}-\d{2}-(\d{2})[T ](\d{2}:\d{2})/.exec(date);
  if (hour) return `${hour[1]} ${hour[2]}`;
  return /^\d{4}-(\d{2}-\d{2})$/.exec(date)?.[1] ?? date;
}

export interface DailyChartProps {
  points: DailyCost[];
  title: string;
  /** Which split to show first. */
  initial?: StackBy;
  /** What one bar stands for. */
  unit?: 'day' | 'hour';
}

export function DailyChart({ points, title, initial = 'model', unit = 'day' }: DailyChartProps) {
  const id = useId();
  const figureRef = useRef<HTMLElement>(null);
  const W = useWidth(figureRef);
  const PLOT_W = W - M.left - M.right;
  const hasFeature = points.some((p) => p.by_feature && Object.keys(p.by_feature).length > 0);
  const hasModel = points.some((p) => p.by_model && Object.keys(p.by_model).length > 0);
  const [chosen, setBy] = useState<StackBy>(initial);
  const by: StackBy = chosen === 'feature' && !hasFeature ? 'model' : chosen === 'model' && !hasModel && hasFeature ? 'feature' : chosen;
  const data = useMemo(() => stackDaily(points, by), [points, by]);
  if (data.bars.length === 0) return null;

  const top = niceMax(data.max);
  const y = (v: number) => M.top + PLOT_H - (v / top) * PLOT_H;
  const band = PLOT_W / data.bars.length;
  const barW = Math.max(1, Math.min(48, band * 0.7));
  // About one date label per 70 px, so they never overlap.
  const every = Math.ceil(data.bars.length / Math.max(2, Math.floor(PLOT_W / 70)));
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * top);
  const summary = describeTrend(data, title, unit);

  return (
    <figure className="daily-chart" ref={figureRef} data-testid="daily-chart" data-stack={by}>
      <figcaption>
        <span className="chart-title">{title}</span>
        {hasFeature && hasModel && (
          <span className="segmented" role="group" aria-label={`Split ${title.toLowerCase()} by`}>
            {(['model', 'feature'] as const).map((k) => (
              <button key={k} type="button" className="small" aria-pressed={by === k} onClick={() => setBy(k)}>
                By {k}
              </button>
            ))}
          </span>
        )}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t`} aria-describedby={`${id}-d`} width={W} height={H} preserveAspectRatio="xMidYMid meet">
        <title id={`${id}-t`}>{summary}</title>
        <desc id={`${id}-d`}>The same figures are in the table that follows.</desc>
        {ticks.map((t) => (
          <g key={t} className="grid">
            <line x1={M.left} x2={W - M.right} y1={y(t)} y2={y(t)} />
            <text x={M.left - 6} y={y(t)} dy="0.32em" textAnchor="end">
              {usd(t)}
            </text>
          </g>
        ))}
        {data.bars.map((b, i) => {
          const x = M.left + i * band + (band - barW) / 2;
          return (
            <g key={b.date} data-date={b.date} data-total={b.total.toFixed(6)}>
              {b.segments.map((s) => (
                <rect key={s.series} className={seriesClass(data.series, s.series)} x={x} width={barW} y={y(s.start + s.value)} height={Math.max(0, y(s.start) - y(s.start + s.value))}>
                  <title>{`${b.date} · ${s.series}: ${usd(s.value)}`}</title>
                </rect>
              ))}
              {i % every === 0 && (
                <text className="x-label" x={M.left + i * band + band / 2} y={H - M.bottom + 16} textAnchor="middle">
                  {shortDate(b.date)}
                </text>
              )}
            </g>
          );
        })}
        <line className="axis" x1={M.left} x2={W - M.right} y1={y(0)} y2={y(0)} />
      </svg>
      <ul className="legend" aria-hidden="true">
        {data.series.map((s) => (
          <li key={s}>
            <svg width="10" height="10" viewBox="0 0 10 10" focusable="false">
              <rect className={seriesClass(data.series, s)} width="10" height="10" rx="2" />
            </svg>
            {s}
          </li>
        ))}
      </ul>
      <table className="visually-hidden" data-testid="daily-chart-table">
        <caption>
          {title} by {by}
        </caption>
        <thead>
          <tr>
            <th scope="col">{unit === 'hour' ? 'Hour' : 'Date'}</th>
            <th scope="col">Calls</th>
            <th scope="col">Cost</th>
            {data.series.map((s) => (
              <th key={s} scope="col">
                {s}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {data.bars.map((b) => (
            <tr key={b.date}>
              <th scope="row">{b.date}</th>
              <td>{b.calls.toLocaleString('en-US')}</td>
              <td>{usd(b.total)}</td>
              {data.series.map((s) => (
                <td key={s}>{usd(b.segments.find((x) => x.series === s)?.value ?? 0)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
