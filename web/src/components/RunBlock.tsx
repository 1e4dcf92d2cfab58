import { useState, type ReactNode } from 'react';
import type { Message } from '../api/types';
import type { AgentNode, RunView, TimelineItem } from '../state/runs';
import { DailyChart } from './DailyChart';
import { FollowUps } from './FollowUps';
import { Markdown } from './Markdown';
import { ReportView } from './ReportView';

function duration(ms: number | undefined): string {
  if (ms === undefined) return '';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

function json(v: unknown): string {
  if (v === undefined) return '—';
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

function AgentTree({ agents }: { agents: AgentNode[] }) {
  const roots = agents.filter((a) => !a.parent || a.parent === a.name || !agents.some((p) => p.name === a.parent));
  const render = (list: AgentNode[], depth: number): ReactNode =>
    list.length === 0 ? null : (
      <ul className={depth === 0 ? 'agent-tree' : undefined}>
        {list.map((a) => (
          <li key={a.name} data-agent={a.name} data-status={a.status}>
            <span className={`dot ${a.status}`} aria-hidden="true" />
            <span className="agent-name">{a.name}</span>{' '}
            <span className="muted small">
              {a.status === 'running' ? 'working…' : a.status}
              {a.durationMs !== undefined && ` in ${duration(a.durationMs)}`}
              {a.thinking > 0 && ` · ${a.thinking} step${a.thinking > 1 ? 's' : ''}`}
            </span>
            {depth < 6 && render(agents.filter((c) => c.parent === a.name && c.name !== a.name), depth + 1)}
          </li>
        ))}
      </ul>
    );
  return <>{render(roots, 0)}</>;
}

function Item({ item }: { item: TimelineItem }) {
  switch (item.kind) {
    case 'agent_started':
      return (
        <li className="ev started" data-event="agent_started">
          <span className="ev-icon" aria-hidden="true">▶</span>
          <span>
            <b>{item.agent}</b> started{item.message ? `: ${item.message}` : ''}
          </span>
        </li>
      );
    case 'thinking':
      return (
        <li className="ev thinking" data-event="agent_thinking">
          <span className="ev-icon" aria-hidden="true">…</span>
          <span>
            <b>{item.agent}</b> {item.reasoning}
            {item.progress !== undefined && <span className="muted small"> ({Math.round(item.progress * 100)}%)</span>}
          </span>
        </li>
      );
    case 'tool':
      return (
        <li className={`ev tool ${item.done ? (item.ok ? 'ok' : 'failed') : 'running'}`} data-event={item.done ? 'tool_completed' : 'tool_executing'}>
          <span className="ev-icon" aria-hidden="true">{item.done ? (item.ok ? '✓' : '✗') : '⚙'}</span>
          <details>
            <summary>
              <b>{item.agent}</b> {item.done ? 'ran' : 'is running'} <code>{item.toolName}</code>
              {item.done && <span className="muted small"> {duration(item.durationMs)}</span>}
              {item.done && !item.ok && <span className="error-text"> failed{item.error ? `: ${item.error}` : ''}</span>}
            </summary>
            <div className="tool-io">
              <div>
                <div className="muted small">Parameters</div>
                <pre>{json(item.parameters)}</pre>
              </div>
              {item.done && (
                <div>
                  <div className="muted small">Result</div>
                  <pre>{json(item.result)}</pre>
                </div>
              )}
            </div>
          </details>
        </li>
      );
    case 'agent_completed':
      return (
        <li className="ev completed" data-event="agent_completed">
          <span className="ev-icon" aria-hidden="true">{item.status === 'cancelled' ? '■' : '✔'}</span>
          <span>
            <b>{item.agent}</b> {item.status === 'cancelled' ? 'was cancelled' : 'completed'}
            {item.durationMs !== undefined && ` in ${duration(item.durationMs)}`}
          </span>
        </li>
      );
    case 'error':
      return (
        <li className="ev error" data-event="agent_error">
          <span className="ev-icon" aria-hidden="true">⚠</span>
          <span className="error-text">
            <b>{item.agent}</b> {item.message} <span className="muted small">({item.code})</span>
          </span>
        </li>
      );
  }
}

const phaseLabel: Record<RunView['phase'], string> = {
  running: 'Working…',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Stopped',
};

function trendTitle(t: NonNullable<NonNullable<RunView['result']>['trend']>): string {
  const unit = t.granularity === 'hour' ? 'Hourly' : 'Daily';
  return t.scope !== 'all' && t.name ? `${unit} cost of ${t.name}` : `${unit} cost`;
}

/**
 * One run: its agent tree and timeline, the answer (streaming, then stored), the report or the
 * follow-up's result, and (when `onAsk` is given) the questions to ask next.
 */
export function RunBlock({ run, stored, onAsk, askDisabled }: { run: RunView; stored?: Message; onAsk?: (q: string) => void; askDisabled?: boolean }) {
  // Live runs open their activity; runs read from history start folded.
  const [open, setOpen] = useState(!run.final);
  const answer = stored?.content || run.answer;
  return (
    <article className={`run ${run.phase}`} data-run={run.id} data-phase={run.phase} data-final={run.final} aria-label="Agent run">
      <details className="activity" open={open} onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>
          <span className={`phase ${run.phase}`} data-testid="run-phase">
            {phaseLabel[run.phase]}
          </span>
          {run.final && run.durationMs !== undefined && <span className="muted small"> in {duration(run.durationMs)}</span>}
          <span className="muted small"> · agent activity</span>
        </summary>
        {run.agents.length > 0 && <AgentTree agents={run.agents} />}
        <ol className="timeline" aria-label="Timeline">
          {run.timeline.map((t) => (
            <Item key={`${t.kind}-${t.seq}`} item={t} />
          ))}
        </ol>
      </details>
      {answer && (
        <div className={`bubble assistant${!run.final && !stored ? ' streaming' : ''}`} data-testid="answer">
          <Markdown text={answer} />
        </div>
      )}
      {run.phase === 'failed' && (
        <p className="run-error" role="alert">
          The run failed{run.error ? `: ${run.error.message}` : '.'}
        </p>
      )}
      {run.phase === 'cancelled' && <p className="muted">Stopped before it finished.</p>}
      {run.report && <ReportView report={run.report} runId={run.id} />}
      {!run.report && run.result?.trend && run.result.trend.points.length > 0 && (
        <section className="report trend" aria-label="Cost trend" data-testid="trend">
          <DailyChart
            points={run.result.trend.points}
            title={trendTitle(run.result.trend)}
            initial={run.result.trend.scope === 'model' ? 'feature' : 'model'}
            unit={run.result.trend.granularity === 'hour' ? 'hour' : 'day'}
          />
        </section>
      )}
      {onAsk && run.phase === 'completed' && (
        <FollowUps questions={run.report?.follow_ups ?? run.result?.follow_ups ?? []} onAsk={onAsk} disabled={askDisabled} />
      )}
    </article>
  );
}
