import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { applyRunEvents } from '../state/runs';
import { report, trendResult } from '../test/fixtures';
import { DailyChart } from './DailyChart';
import { FollowUps } from './FollowUps';
import { filterText, ReportView } from './ReportView';
import { RunBlock } from './RunBlock';

function finishedRun(payload: Record<string, unknown>) {
  const runs = applyRunEvents({}, [
    { type: 'agent_started', seq: 1, run_id: 'run_1', thread_id: 'thr_1', agent_name: 'apex', payload: {} },
    { type: 'agent_message_delta', seq: 2, run_id: 'run_1', thread_id: 'thr_1', agent_name: 'reporter', payload: { delta: 'The trend.' } },
    { type: 'agent_completed', seq: 3, run_id: 'run_1', thread_id: 'thr_1', agent_name: 'apex', payload: { status: 'completed', ...payload } },
  ]);
  return runs.run_1;
}

describe('follow-up suggestions', () => {
  it('renders each question once as a button, as text', () => {
    const html = renderToStaticMarkup(<FollowUps questions={['Why <b>gpt-4o</b>?', 'Why <b>gpt-4o</b>?', '', 'Only gpt-4o traffic']} onAsk={() => {}} />);
    expect(html.match(/<button/g)).toHaveLength(2);
    expect(html).toContain('Why &lt;b&gt;gpt-4o&lt;/b&gt;?');
    expect(html).toContain('Ask next');
    expect(renderToStaticMarkup(<FollowUps questions={[]} onAsk={() => {}} />)).toBe('');
  });

  it('a run with a report shows its daily chart and its follow-ups', () => {
    const run = finishedRun({ report });
    expect(run.report?.follow_ups).toHaveLength(2);
    const html = renderToStaticMarkup(<RunBlock run={run} onAsk={() => {}} />);
    expect(html).toContain('data-testid="daily-chart"');
    expect(html).toContain('What if we only did the caching change?');
    expect(html).toContain('Show the daily cost trend for support-chat');
    // Without onAsk (an older turn) no suggestions.
    expect(renderToStaticMarkup(<RunBlock run={run} />)).not.toContain('data-testid="follow-ups"');
  });

  it('a cost_trend result shows the chart of its points and its follow-ups', () => {
    const run = finishedRun({ result: trendResult });
    expect(run.result?.kind).toBe('cost_trend');
    expect(run.report).toBeUndefined();
    const html = renderToStaticMarkup(<RunBlock run={run} onAsk={() => {}} />);
    expect(html).toContain('data-testid="trend"');
    expect(html).toContain('Daily cost of support-chat');
    expect(html).toContain('Compare gpt-4o-mini and claude-haiku-4-5 for support-chat');
  });

  it('a result without intent follow_up is not taken for one', () => {
    expect(finishedRun({ result: { kind: 'cost_trend' } }).result).toBeUndefined();
  });
});

describe('DailyChart', () => {
  const html = renderToStaticMarkup(<DailyChart points={report.cost_analysis!.daily!} title="Daily cost" />);

  it('is an image with a summary and a table of the same figures', () => {
    expect(html).toMatch(/<svg[^>]*role="img"[^>]*aria-labelledby="([^"]+)"/);
    const labelId = /aria-labelledby="([^"]+)"/.exec(html)![1];
    expect(html).toContain(`<title id="${labelId}">Daily cost from 2026-11-01 to 2026-11-04 (4 days): $12.05 in total`);
    expect(html).toContain('data-testid="daily-chart-table"');
    expect(html.match(/<tr>/g)).toHaveLength(5);
    expect(html).toContain('<th scope="row">2026-11-04</th><td>34</td><td>$3.40</td>');
  });

  it('draws one stacked bar per day in series colours with a by model / by feature toggle', () => {
    expect(html.match(/<g data-date=/g)).toHaveLength(4);
    expect(html).toContain('class="series-0"');
    expect(html).toContain('class="series-1"');
    expect(html).toContain('aria-pressed="true">By model');
    expect(html).toContain('aria-pressed="false">By feature');
    const byFeature = renderToStaticMarkup(<DailyChart points={report.cost_analysis!.daily!} title="Daily cost" initial="feature" />);
    expect(byFeature).toContain('data-stack="feature"');
    expect(byFeature).toContain('<th scope="col">support-chat</th>');
    expect(byFeature).toContain('<th scope="col">Other</th>');
  });

  it('draws nothing for an empty series', () => {
    expect(renderToStaticMarkup(<DailyChart points={[]} title="Daily cost" />)).toBe('');
  });
});

describe('filtered report', () => {
  it('says what the analysis kept', () => {
    expect(filterText({ feature: { exclude: ['report-gen'] }, model: null })).toBe('feature: exclude report-gen');
    expect(filterText({ models: ['gpt-4o'], date_from: '2026-11-01' })).toBe('models: gpt-4o · date from: 2026-11-01');
    expect(filterText(undefined)).toBe('');
    const html = renderToStaticMarkup(<ReportView report={{ ...report, filters: { feature: { exclude: ['<b>report-gen</b>'] } } }} runId="run_1" />);
    expect(html).toContain('Filtered</span> feature: exclude &lt;b&gt;report-gen&lt;/b&gt;');
  });
});
