import type { CostShare, Report } from '../api/types';
import { pct, reportToCsv, reportToJson, reportToMarkdown, usd } from '../report/export';
import { DailyChart } from './DailyChart';
import { Markdown } from './Markdown';

/**
 * Cost shares as horizontal bars. Two small bar lists do not justify a charting library (tens of
 * KB gzipped); plain elements stay accessible as a list and follow the theme's colours.
 */
function Bars({ title, items, label }: { title: string; items: CostShare[]; label: (c: CostShare) => string }) {
  if (!items.length) return null;
  const max = Math.max(...items.map((i) => i.monthly_cost_usd), 1);
  return (
    <figure className="bars">
      <figcaption>{title}</figcaption>
      <ul>
        {items.map((i) => (
          <li key={label(i)}>
            <span className="bar-label">{label(i)}</span>
            <span className="bar-track" aria-hidden="true">
              <span className="bar-fill" style={{ width: `${Math.max(1, (i.monthly_cost_usd / max) * 100)}%` }} />
            </span>
            <span className="bar-value">
              {usd(i.monthly_cost_usd)}
              {i.share !== undefined && <span className="muted"> · {pct(i.share * 100)}</span>}
            </span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

/** A filtered analysis says what it kept: `{feature: {exclude: ["report-gen"]}}` → "feature: exclude report-gen". */
export function filterText(filters: Record<string, unknown> | undefined): string {
  if (!filters || typeof filters !== 'object') return '';
  const part = (v: unknown): string =>
    Array.isArray(v)
      ? v.map(part).join(', ')
      : v && typeof v === 'object'
        ? Object.entries(v)
            .filter(([, x]) => x !== null && x !== undefined && x !== '')
            .map(([k, x]) => `${k.replace(/_/g, ' ')} ${part(x)}`)
            .join('; ')
        : String(v);
  return Object.entries(filters)
    .filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k.replace(/_/g, ' ')}: ${part(v)}`)
    .join(' · ');
}

function Download({ name, type, make, children }: { name: string; type: string; make: () => string; children: string }) {
  return (
    <button
      type="button"
      className="small"
      aria-label={`Export as ${children}`}
      onClick={() => {
        const url = URL.createObjectURL(new Blob([make()], { type }));
        const a = document.createElement('a');
        a.href = url;
        a.download = name;
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
      }}
    >
      {children}
    </button>
  );
}

export function ReportView({ report, runId }: { report: Report; runId: string }) {
  const c = report.cost_analysis ?? {};
  const s = report.potential_savings ?? {};
  const recs = report.recommendations ?? [];
  const plan = [...(report.action_plan ?? [])].sort((a, b) => a.order - b.order);
  const base = `apex-report-${runId}`;
  return (
    <section className="report" aria-label="Cost report" data-testid="report">
      <header className="report-head">
        <h3>Report{report.estimate && <span className="badge warn">estimate</span>}</h3>
        <div className="exports" role="group" aria-label="Export report">
          <Download name={`${base}.md`} type="text/markdown" make={() => reportToMarkdown(report)}>
            Markdown
          </Download>
          <Download name={`${base}.json`} type="application/json" make={() => reportToJson(report)}>
            JSON
          </Download>
          <Download name={`${base}.csv`} type="text/csv" make={() => reportToCsv(report)}>
            CSV
          </Download>
        </div>
      </header>
      {filterText(report.filters) && (
        <p className="small" data-testid="report-filters">
          <span className="badge">Filtered</span> {filterText(report.filters)}
        </p>
      )}
      {report.summary && <Markdown className="summary" text={report.summary} />}
      {(report.cost_analysis || report.potential_savings) && (
      <dl className="figures">
        <div>
          <dt>Monthly cost</dt>
          <dd data-testid="monthly-cost">{usd(c.monthly_cost_usd)}</dd>
        </div>
        <div>
          <dt>Savings per month</dt>
          <dd className="good" data-testid="monthly-savings">
            {usd(s.monthly_amount)}
          </dd>
        </div>
        <div>
          <dt>Savings per year</dt>
          <dd className="good">{usd(s.annual_amount)}</dd>
        </div>
        <div>
          <dt>Cut</dt>
          <dd>{pct(s.percent)}</dd>
        </div>
      </dl>
      )}
      {recs.length > 0 && (
        <div className="table-wrap">
          <table className="recs">
            <caption>Recommendations</caption>
            <thead>
              <tr>
                <th scope="col">Recommendation</th>
                <th scope="col" className="num">
                  Savings / month
                </th>
                <th scope="col">Effort</th>
                <th scope="col">Risk</th>
                <th scope="col">Confidence</th>
              </tr>
            </thead>
            <tbody>
              {recs.map((r) => (
                <tr key={r.id}>
                  <th scope="row">
                    {r.title}
                    {r.rationale && <div className="muted small">{r.rationale}</div>}
                  </th>
                  <td className="num">{usd(r.monthly_savings_usd)}</td>
                  <td>
                    <span className={`level ${r.effort}`}>{r.effort ?? '–'}</span>
                  </td>
                  <td>
                    <span className={`level ${r.risk}`}>{r.risk ?? '–'}</span>
                  </td>
                  <td>{r.confidence ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {c.daily && c.daily.length > 0 && <DailyChart points={c.daily} title="Daily cost" />}
      <div className="charts">
        <Bars title="Cost by model (per month)" items={c.by_model ?? []} label={(x) => x.model ?? '?'} />
        <Bars title="Cost by feature (per month)" items={c.by_feature ?? []} label={(x) => x.feature ?? '?'} />
      </div>
      {plan.length > 0 && (
        <div className="plan">
          <h4>Action plan</h4>
          <ol>
            {plan.map((p) => {
              const rec = recs.find((r) => r.id === p.recommendation_id);
              return (
                <li key={`${p.order}-${p.recommendation_id}`}>
                  <span className="badge">Week {p.week ?? '?'}</span> {rec?.title ?? p.recommendation_id}
                  {rec?.steps && rec.steps.length > 0 && (
                    <ul className="steps">
                      {rec.steps.map((st, i) => (
                        <li key={i}>{st}</li>
                      ))}
                    </ul>
                  )}
                </li>
              );
            })}
          </ol>
        </div>
      )}
      {report.assumptions && report.assumptions.length > 0 && (
        <details className="assumptions">
          <summary>Assumptions</summary>
          <ul>
            {report.assumptions.map((a, i) => (
              <li key={i}>{a}</li>
            ))}
          </ul>
        </details>
      )}
    </section>
  );
}
