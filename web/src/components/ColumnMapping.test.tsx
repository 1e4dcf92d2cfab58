import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { UnrecognizedFormatProblem } from '../api/types';
import { ColumnMapping } from './ColumnMapping';
import { ApiError } from '../api/session';
import { DatasetSummary, uploadFailure } from './DatasetPanel';

const problem: UnrecognizedFormatProblem = {
  status: 422,
  code: 'unrecognized_format',
  detail: 'No known export format matches: map timestamp, model, input_tokens, output_tokens.',
  columns_found: ['Date', 'Model', 'Prompt Tokens', 'Completion Tokens', 'Spend <usd>'],
  fields_needed: ['timestamp', 'model', 'input_tokens', 'output_tokens'],
  fields_optional: ['cost_usd', 'feature'],
};

describe('ColumnMapping', () => {
  const html = renderToStaticMarkup(<ColumnMapping fileName="bill.csv" problem={problem} onSubmit={() => {}} onCancel={() => {}} />);

  it('has one labelled select per field listing every column of the file', () => {
    const selects = html.match(/<select [^>]*>/g) ?? [];
    expect(selects).toHaveLength(6);
    for (const f of ['timestamp', 'model', 'input_tokens', 'output_tokens', 'cost_usd', 'feature']) {
      const id = new RegExp(`<select id="([^"]+)" name="${f}"`).exec(html)?.[1];
      expect(id, f).toBeTruthy();
      expect(html).toContain(`<label for="${id}">`);
    }
    expect(html.match(/<option value="Prompt Tokens"/g)).toHaveLength(6);
    // Column names are text, never markup.
    expect(html).toContain('Spend &lt;usd&gt;');
    expect(html).not.toContain('<usd>');
  });

  it('preselects its guesses and shows the server detail', () => {
    expect(html).toMatch(/name="input_tokens"[^>]*>.*?<option value="Prompt Tokens" selected=""/s);
    expect(html).toContain('No known export format matches');
    expect(html).toContain('(required)');
    expect(html).toContain('Upload with these columns');
  });
});

describe('DatasetSummary', () => {
  it('shows the recognised format and the calls', () => {
    const html = renderToStaticMarkup(
      <DatasetSummary
        dataset={{ id: 'ds_1', name: 'spend.csv', rows: 12, calls: 3400, source_format: 'litellm_spend_logs', source_format_name: 'LiteLLM spend logs', aggregated: true }}
      />,
    );
    expect(html).toContain('LiteLLM spend logs');
    expect(html).toContain('data-testid="dataset-calls">3,400</span> calls');
    expect(html).toContain('totals over several calls');
  });
});

describe('uploadFailure', () => {
  it('asks for a mapping on unrecognized_format', () => {
    const f = uploadFailure(new ApiError(422, problem));
    expect(f.kind).toBe('mapping');
    expect(f.kind === 'mapping' && f.problem.columns_found).toEqual(problem.columns_found);
  });

  it('shows the detail of no_token_counts and of other refusals', () => {
    const detail = 'Azure RequestResponse logs have no token counts: export the Azure OpenAI usage metrics (Tokens) instead.';
    expect(uploadFailure(new ApiError(422, { status: 422, code: 'no_token_counts', detail }))).toEqual({ kind: 'message', text: detail });
    expect(uploadFailure(new ApiError(413, { status: 413, title: 'Payload Too Large' }))).toEqual({ kind: 'message', text: 'Payload Too Large' });
    expect(uploadFailure(new Error('The upload failed: the server cannot be reached.'))).toEqual({
      kind: 'message',
      text: 'The upload failed: the server cannot be reached.',
    });
  });
});
