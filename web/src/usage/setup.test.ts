import { describe, expect, it } from 'vitest';
import { budgetInput, draftOf, emptyDraft, keyNameError, otlpEndpoint, otlpEnvironment } from './setup';

describe('OTLP setup text', () => {
  it('points at /v1/traces of this origin', () => {
    expect(otlpEndpoint('https://apex.example.com/')).toBe('https://apex.example.com/v1/traces');
    expect(otlpEnvironment('https://apex.example.com', 'apx_ik_abc-_123').split('\n')).toEqual([
      'OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=https://apex.example.com/v1/traces',
      'OTEL_EXPORTER_OTLP_HEADERS=x-api-key=apx_ik_abc-_123',
    ]);
  });

  it('asks for a key name of 1 to 100 characters', () => {
    expect(keyNameError('  ')).toMatch(/name/);
    expect(keyNameError('x'.repeat(101))).toMatch(/100/);
    expect(keyNameError(' prod-app ')).toBeNull();
  });
});

describe('budget form', () => {
  const draft = { monthly: '$1,500.50', features: [{ name: ' faq-bot ', usd: '100' }, { name: '', usd: '' }], webhookUrl: ' https://hooks.example.com/apex ', spikeFactor: '2.5' };

  it('turns a filled form into the PUT body', () => {
    expect(budgetInput(draft)).toEqual({
      input: { monthly_usd: 1500.5, features: { 'faq-bot': 100 }, webhook_url: 'https://hooks.example.com/apex', spike_factor: 2.5 },
    });
    expect(budgetInput({ ...emptyDraft, monthly: '500' })).toEqual({ input: { monthly_usd: 500 } });
  });

  it('names each wrong field', () => {
    const result = budgetInput({ monthly: '0', features: [{ name: 'faq-bot', usd: 'lots' }], webhookUrl: 'ftp://x', spikeFactor: '1' });
    expect('errors' in result && Object.keys(result.errors).sort()).toEqual(['features', 'monthly', 'spikeFactor', 'webhookUrl']);
    expect(budgetInput({ ...emptyDraft, monthly: '12.345' })).toHaveProperty('errors.monthly');
    expect(budgetInput({ ...emptyDraft, monthly: '10', features: [{ name: 'a', usd: '1' }, { name: 'a', usd: '2' }] })).toHaveProperty('errors.features', 'The feature a is listed twice.');
    expect(budgetInput({ ...emptyDraft, monthly: '10', features: [{ name: '', usd: '5' }] })).toHaveProperty('errors.features');
  });

  it('fills the form from a stored budget', () => {
    const d = draftOf({ dataset_id: 'ds', monthly_usd: 500, features: { 'faq-bot': 100 }, webhook_url: 'https://h.example/x', spike_factor: 3 });
    expect(d).toEqual({ monthly: '500', features: [{ name: 'faq-bot', usd: '100' }], webhookUrl: 'https://h.example/x', spikeFactor: '3' });
    expect(budgetInput(d)).toEqual({ input: { monthly_usd: 500, features: { 'faq-bot': 100 }, webhook_url: 'https://h.example/x', spike_factor: 3 } });
    expect(draftOf(null)).toEqual(emptyDraft);
  });
});
