// Report exports (docs/spec/agent-report.md section 5): Markdown for people, JSON as the server sent it, CSV
// of the recommendations for spreadsheets.

import type { Report } from '../api/types';

export function usd(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: n >= 100 ? 0 : 2 });
}

export function pct(n: number | undefined): string {
  return n === undefined || !Number.isFinite(n) ? '–' : `${n.toFixed(1)}%`;
}

/**
 * Text from the dataset (model and feature names, titles, the summary) as Markdown text: many
 * Markdown viewers pass raw HTML through, so `<`, `>` and `&` are written as entities, the way the
 * app shows raw HTML as text. Formatting characters stay, so the summary keeps its emphasis.
 */
export function mdText(s: unknown): string {
  return String(s ?? '').replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c] as string);
}

function mdCell(s: unknown): string {
  return mdText(s).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

export function reportToMarkdown(r: Report): string {
  const lines: string[] = ['# Apex cost report', ''];
  if (r.estimate) lines.push('_Estimate from the figures in the conversation, not from a usage export._', '');
  if (r.summary) lines.push(mdText(r.summary), '');
  const c = r.cost_analysis;
  const s = r.potential_savings;
  lines.push('## Figures', '');
  lines.push(`- Monthly cost: ${usd(c?.monthly_cost_usd)}`);
  lines.push(`- Potential savings: ${usd(s?.monthly_amount)}/month (${pct(s?.percent)}), ${usd(s?.annual_amount)}/year`);
  if (c?.calls !== undefined) lines.push(`- Calls analysed: ${c.calls.toLocaleString('en-US')} over ${c.period_days ?? '?'} days`);
  lines.push('');
  const recs = r.recommendations ?? [];
  if (recs.length) {
    lines.push('## Recommendations', '', '| # | Recommendation | Monthly savings | Effort | Risk | Confidence |', '|---|---|---|---|---|---|');
    recs.forEach((x, i) =>
      lines.push(`| ${i + 1} | ${mdCell(x.title)} | ${usd(x.monthly_savings_usd)} | ${mdCell(x.effort)} | ${mdCell(x.risk)} | ${mdCell(x.confidence)} |`),
    );
    lines.push('');
  }
  const byModel = c?.by_model ?? [];
  if (byModel.length) {
    lines.push('## Cost by model', '', '| Model | Monthly cost | Share |', '|---|---|---|');
    for (const m of byModel) lines.push(`| ${mdCell(m.model)} | ${usd(m.monthly_cost_usd)} | ${pct((m.share ?? 0) * 100)} |`);
    lines.push('');
  }
  const byFeature = c?.by_feature ?? [];
  if (byFeature.length) {
    lines.push('## Cost by feature', '', '| Feature | Monthly cost | Share |', '|---|---|---|');
    for (const f of byFeature) lines.push(`| ${mdCell(f.feature)} | ${usd(f.monthly_cost_usd)} | ${pct((f.share ?? 0) * 100)} |`);
    lines.push('');
  }
  const daily = c?.daily ?? [];
  if (daily.length) {
    lines.push('## Daily cost', '', '| Date | Calls | Cost |', '|---|---|---|');
    for (const d of daily) lines.push(`| ${mdCell(d.date)} | ${(d.calls ?? 0).toLocaleString('en-US')} | ${usd(d.cost_usd)} |`);
    lines.push('');
  }
  const plan = [...(r.action_plan ?? [])].sort((a, b) => a.order - b.order);
  if (plan.length) {
    lines.push('## Action plan', '');
    for (const p of plan) {
      const rec = recs.find((x) => x.id === p.recommendation_id);
      lines.push(`${p.order}. Week ${p.week ?? '?'}: ${mdCell(rec?.title ?? p.recommendation_id)}`);
    }
    lines.push('');
  }
  if (r.follow_ups?.length) {
    lines.push('## Questions to ask next', '');
    for (const q of r.follow_ups) lines.push(`- ${mdCell(q)}`);
    lines.push('');
  }
  if (r.assumptions?.length) {
    lines.push('## Assumptions', '');
    for (const a of r.assumptions) lines.push(`- ${mdCell(a)}`);
    lines.push('');
  }
  return lines.join('\n');
}

export function reportToJson(r: Report): string {
  return JSON.stringify(r, null, 2);
}

function csvField(v: unknown): string {
  let s = v === undefined || v === null ? '' : String(v);
  // A leading = + - @ makes spreadsheets evaluate the cell: keep it text.
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function reportToCsv(r: Report): string {
  const plan = new Map((r.action_plan ?? []).map((p) => [p.recommendation_id, p]));
  const rows: unknown[][] = [
    ['order', 'week', 'id', 'category', 'title', 'monthly_savings_usd', 'effort', 'risk', 'confidence', 'rationale'],
  ];
  for (const x of r.recommendations ?? []) {
    const p = plan.get(x.id);
    rows.push([p?.order, p?.week, x.id, x.category, x.title, x.monthly_savings_usd, x.effort, x.risk, x.confidence, x.rationale]);
  }
  return rows.map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}
