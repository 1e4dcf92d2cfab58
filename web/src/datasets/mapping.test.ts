import { describe, expect, it } from 'vitest';
import { fieldLabel, guessMapping, isUnrecognizedFormat, mappingJson, mappingProblems } from './mapping';

const needed = ['timestamp', 'model', 'input_tokens', 'output_tokens'];
const optional = ['cost_usd', 'latency_ms', 'feature', 'cached_input_tokens'];

describe('column mapping', () => {
  it('recognises the 422 problem of an unrecognised format only', () => {
    expect(isUnrecognizedFormat({ code: 'unrecognized_format', columns_found: ['a'], fields_needed: needed } as never)).toBe(true);
    expect(isUnrecognizedFormat({ code: 'no_token_counts', detail: 'x' })).toBe(false);
    expect(isUnrecognizedFormat({ code: 'unrecognized_format' })).toBe(false);
    expect(isUnrecognizedFormat(undefined)).toBe(false);
  });

  it('guesses columns by name and synonym, one field per column', () => {
    const columns = ['Date', 'Model', 'Prompt Tokens', 'Completion Tokens', 'Cost', 'App', 'Notes'];
    expect(guessMapping(columns, [...needed, ...optional])).toEqual({
      timestamp: 'Date',
      model: 'Model',
      input_tokens: 'Prompt Tokens',
      output_tokens: 'Completion Tokens',
      cost_usd: 'Cost',
      feature: 'App',
    });
    expect(guessMapping(['when', 'what'], needed)).toEqual({});
    // Same name wins over a synonym elsewhere in the header.
    expect(guessMapping(['time', 'timestamp'], ['timestamp']).timestamp).toBe('timestamp');
  });

  it('names missing required fields and columns used twice', () => {
    expect(mappingProblems({ timestamp: 'Date', model: 'Model' }, needed)).toEqual({ missing: ['input_tokens', 'output_tokens'], duplicates: [] });
    expect(mappingProblems({ timestamp: 'A', model: 'B', input_tokens: 'C', output_tokens: 'C' }, needed)).toEqual({ missing: [], duplicates: ['C'] });
    expect(mappingProblems({ timestamp: 'A', model: 'B', input_tokens: 'C', output_tokens: 'D', feature: '' }, needed)).toEqual({ missing: [], duplicates: [] });
  });

  it('sends only chosen fields, in the contract shape', () => {
    expect(JSON.parse(mappingJson({ timestamp: 'Date', model: 'Model', feature: '' }))).toEqual({ timestamp: 'Date', model: 'Model' });
    expect(fieldLabel('input_tokens')).toBe('Input tokens');
    expect(fieldLabel('cost_usd')).toBe('Cost (USD)');
  });
});
