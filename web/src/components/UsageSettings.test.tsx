// @vitest-environment happy-dom
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Budget, CreatedIngestKey, Dataset, IngestKey, UsageAlert } from '../api/types';
import { useUsageAlerts } from '../hooks/useLiveUsage';
import { AlertToasts } from './AlertToasts';
import { UsageSettings } from './UsageSettings';

const ORIGIN = 'https://apex.example.com';
const KEY = `apx_ik_${'A'.repeat(43)}`;

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

/** The REST routes of contracts E and F over an in-memory store, as `fetch` sees them. */
function fakeApex(options: { alerts?: UsageAlert[] } = {}) {
  const keys: IngestKey[] = [
    { id: 'ik_old', name: 'staging', key_prefix: 'apx_ik_Zz9yX', dataset_id: 'ds_staging', created_at: '2026-11-01T00:00:00Z', last_used_at: null, revoked_at: null },
  ];
  const datasets: Dataset[] = [
    { id: 'ds_staging', name: 'staging', rows: 10, kind: 'live' },
    { id: 'ds_upload', name: 'export.csv', rows: 5, kind: 'upload' },
  ];
  const budgets = new Map<string, Budget>();
  const calls: Call[] = [];
  const json = (status: number, body?: unknown) => new Response(body === undefined ? null : JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  const notFound = () => json(404, { status: 404, title: 'Not Found', code: 'not_found', detail: 'Not found.' });
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), ORIGIN);
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    calls.push({ method, path: url.pathname, body });
    const budget = /^\/api\/datasets\/([^/]+)\/budget$/.exec(url.pathname);
    if (url.pathname === '/api/ingest-keys' && method === 'GET') return json(200, { items: keys, next_cursor: null });
    if (url.pathname === '/api/ingest-keys' && method === 'POST') {
      const created: CreatedIngestKey = { id: 'ik_new', name: body.name, key: KEY, key_prefix: KEY.slice(0, 12), dataset_id: 'ds_new', created_at: '2026-12-02T10:00:00Z', last_used_at: null, revoked_at: null };
      const { key: _secret, ...listed } = created;
      keys.unshift(listed);
      return json(201, created);
    }
    const revoke = /^\/api\/ingest-keys\/([^/]+)$/.exec(url.pathname);
    if (revoke && method === 'DELETE') {
      const k = keys.find((x) => x.id === revoke[1]);
      if (!k) return notFound();
      k.revoked_at = '2026-12-02T11:00:00Z';
      return json(204);
    }
    if (url.pathname === '/api/datasets' && method === 'GET') return json(200, { items: datasets, next_cursor: null });
    if (budget && method === 'GET') return budgets.has(budget[1]) ? json(200, budgets.get(budget[1])) : notFound();
    if (budget && method === 'PUT') {
      const stored: Budget = { dataset_id: budget[1], spike_factor: 3, ...body };
      const fresh = body.webhook_url && budgets.get(budget[1])?.webhook_url !== body.webhook_url;
      budgets.set(budget[1], stored);
      return json(200, fresh ? { ...stored, webhook_secret: 'whsec_shown_once' } : stored);
    }
    if (budget && method === 'DELETE') {
      budgets.delete(budget[1]);
      return json(204);
    }
    if (url.pathname === '/api/alerts') return json(200, { items: options.alerts ?? [], next_cursor: null });
    return notFound();
  });
  vi.stubGlobal('fetch', fetch);
  return { keys, budgets, calls };
}

function alert(n: number): UsageAlert {
  return {
    id: `alr_${n}`,
    dataset_id: 'ds_staging',
    dataset_name: 'staging',
    kind: 'budget_projected',
    feature: null,
    month: '2026-12',
    budget_usd: 500,
    projected_usd: 610,
    spent_usd: 40,
    day: null,
    day_cost_usd: null,
    baseline_usd: null,
    message: `December is projected at $610, over the $500 budget (${n}).`,
    created_at: `2026-12-0${n}T08:00:00Z`,
  };
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

describe('ingest keys in the live usage settings', () => {
  it('creates a key and shows it once, with the endpoint and the exporter environment', async () => {
    const apex = fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    expect(document.activeElement).toBe(screen.getByRole('heading', { name: 'Live usage' }));
    await screen.findByRole('rowheader', { name: 'staging' });

    fireEvent.change(screen.getByLabelText('Key name'), { target: { value: ' prod-app ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));

    const notice = await screen.findByRole('group', { name: 'Key “prod-app” created' });
    expect(apex.calls).toContainEqual({ method: 'POST', path: '/api/ingest-keys', body: { name: 'prod-app' } });
    expect(within(notice).getByLabelText('Ingest key')).toHaveProperty('value', KEY);
    expect(within(notice).getByTestId('otlp-endpoint').textContent).toBe(`${ORIGIN}/v1/traces`);
    expect(within(notice).getByTestId('otlp-env').textContent).toContain(`OTEL_EXPORTER_OTLP_HEADERS=x-api-key=${KEY}`);
    const done = within(notice).getByRole('button', { name: 'I have copied the key' });
    expect(document.activeElement).toBe(done);
    // The list shows the prefix only.
    const row = screen.getByRole('row', { name: /prod-app/ });
    expect(row.textContent).toContain(`${KEY.slice(0, 12)}…`);
    expect(row.textContent).not.toContain(KEY);

    fireEvent.click(done);
    expect(screen.queryByTestId('new-key')).toBeNull();
    expect(document.body.textContent).not.toContain(KEY);
  });

  it('copies the key to the clipboard and says so', async () => {
    fakeApex();
    const writeText = vi.fn(async () => {});
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } });
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    fireEvent.change(screen.getByLabelText('Key name'), { target: { value: 'prod-app' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    fireEvent.click(await screen.findByRole('button', { name: 'Copy the ingest key' }));
    await screen.findByText('Copied.');
    expect(writeText).toHaveBeenCalledWith(KEY);
  });

  it('refuses an empty name without asking the server', async () => {
    const apex = fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    await screen.findByRole('rowheader', { name: 'staging' });
    fireEvent.click(screen.getByRole('button', { name: 'Create key' }));
    expect((await screen.findAllByRole('alert'))[0].textContent).toMatch(/Give the key a name/);
    expect(screen.getByLabelText('Key name').getAttribute('aria-invalid')).toBe('true');
    expect(apex.calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('revokes a key only after the confirmation', async () => {
    const apex = fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Revoke staging' }));
    const confirm = screen.getByRole('group', { name: 'Confirm revoking staging' });
    expect(apex.calls.some((c) => c.method === 'DELETE')).toBe(false);
    fireEvent.click(within(confirm).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('group', { name: 'Confirm revoking staging' })).toBeNull();

    fireEvent.click(screen.getByRole('button', { name: 'Revoke staging' }));
    const revoke = screen.getByRole('button', { name: 'Revoke staging' });
    expect(document.activeElement).toBe(revoke);
    fireEvent.click(revoke);
    await waitFor(() => expect(screen.getByRole('row', { name: /staging/ }).textContent).toContain('revoked'));
    expect(apex.calls).toContainEqual({ method: 'DELETE', path: '/api/ingest-keys/ik_old', body: undefined });
    expect(screen.queryByRole('button', { name: 'Revoke staging' })).toBeNull();
  });

  it('closes on Escape', async () => {
    fakeApex();
    const onClose = vi.fn();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={onClose} />);
    fireEvent.keyDown(screen.getByRole('heading', { name: 'Live usage' }), { key: 'Escape' });
    expect(onClose).toHaveBeenCalled();
  });
});

describe('budgets of live datasets', () => {
  it('sets a budget with a feature budget and a webhook, shows the secret once, and removes it', async () => {
    const apex = fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    // Only live datasets get a budget.
    const open = await screen.findByRole('button', { name: 'Budget for staging' });
    expect(screen.queryByRole('button', { name: /export\.csv/ })).toBeNull();
    expect(open.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(open);
    expect(open.getAttribute('aria-expanded')).toBe('true');
    const form = await screen.findByRole('form', { name: 'Budget for staging' });

    fireEvent.change(within(form).getByLabelText('Monthly budget (USD)'), { target: { value: '500' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add a feature budget' }));
    fireEvent.change(within(form).getByLabelText('Feature'), { target: { value: 'faq-bot' } });
    fireEvent.change(within(form).getByLabelText('Monthly USD'), { target: { value: '100' } });
    fireEvent.change(within(form).getByLabelText('Webhook URL (optional)'), { target: { value: 'https://hooks.example.com/apex' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save budget' }));

    expect((await screen.findByTestId('webhook-secret')).textContent).toBe('whsec_shown_once');
    expect(apex.calls).toContainEqual({
      method: 'PUT',
      path: '/api/datasets/ds_staging/budget',
      body: { monthly_usd: 500, features: { 'faq-bot': 100 }, webhook_url: 'https://hooks.example.com/apex' },
    });
    await screen.findByRole('button', { name: 'Budget for staging ($500/month)' });
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('webhook-secret')).toBeNull();

    fireEvent.click(screen.getByRole('button', { name: 'Remove budget' }));
    await screen.findByRole('button', { name: 'Budget for staging' });
    expect(apex.budgets.has('ds_staging')).toBe(false);
  });

  it('shows what is wrong next to the field and sends nothing', async () => {
    const apex = fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[]} onClose={() => {}} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Budget for staging' }));
    const form = await screen.findByRole('form', { name: 'Budget for staging' });
    fireEvent.change(within(form).getByLabelText('Webhook URL (optional)'), { target: { value: 'not a url' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Save budget' }));
    const monthly = within(form).getByLabelText('Monthly budget (USD)');
    expect(monthly.getAttribute('aria-invalid')).toBe('true');
    expect(document.getElementById(monthly.getAttribute('aria-describedby')!)?.textContent).toMatch(/greater than 0/);
    expect(within(form).getByLabelText('Webhook URL (optional)').getAttribute('aria-invalid')).toBe('true');
    expect(apex.calls.some((c) => c.method === 'PUT')).toBe(false);
  });
});

describe('usage alerts', () => {
  it('lists the recent alerts and toasts a live one once', async () => {
    fakeApex({ alerts: [alert(1)] });
    const { result } = renderHook(() => useUsageAlerts());
    await waitFor(() => expect(result.current.alerts.map((a) => a.id)).toEqual(['alr_1']));
    expect(result.current.toasts).toEqual([]);

    act(() => result.current.receive(alert(2)));
    act(() => result.current.receive(alert(2)));
    expect(result.current.toasts.map((a) => a.id)).toEqual(['alr_2']);
    expect(result.current.alerts.map((a) => a.id)).toEqual(['alr_2', 'alr_1']);
    act(() => result.current.dismiss('alr_2'));
    expect(result.current.toasts).toEqual([]);
  });

  it('announces toasts politely in a region that is always there', () => {
    const onDismiss = vi.fn();
    const { rerender } = render(<AlertToasts toasts={[]} onDismiss={onDismiss} onOpen={() => {}} />);
    const region = screen.getByRole('status', { name: 'Usage alerts' });
    expect(region.getAttribute('aria-live')).toBe('polite');
    rerender(<AlertToasts toasts={[alert(3)]} onDismiss={onDismiss} onOpen={() => {}} />);
    expect(within(region).getByText(/over the \$500 budget \(3\)/)).toBeTruthy();
    fireEvent.click(within(region).getByRole('button', { name: 'Dismiss alert: staging: 2026-12 projected over budget' }));
    expect(onDismiss).toHaveBeenCalledWith('alr_3');
  });

  it('shows the recent alerts in the settings', () => {
    fakeApex();
    render(<UsageSettings origin={ORIGIN} alerts={[alert(1)]} onClose={() => {}} />);
    const list = screen.getByTestId('alert-list');
    expect(list.textContent).toContain('staging: 2026-12 projected over budget');
    expect(list.textContent).toContain('projected $610.00 of a $500.00 budget');
  });
});
