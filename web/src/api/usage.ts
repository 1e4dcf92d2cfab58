// REST calls of live usage: ingest keys, budgets of live datasets, alerts (contracts E and F).

import { api, ApiError } from './session';
import type { Budget, BudgetInput, CreatedIngestKey, Dataset, IngestKey, Page, UsageAlert } from './types';

const MAX_PAGES = 20;

async function pages<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await api<Page<T> | undefined>('GET', `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...(body?.items ?? []));
    cursor = body?.next_cursor;
    if (!cursor) break;
  }
  return out;
}

export const listIngestKeys = () => pages<IngestKey>('/api/ingest-keys');
export const createIngestKey = (name: string) => api<CreatedIngestKey>('POST', '/api/ingest-keys', { name });
export const revokeIngestKey = (id: string) => api<void>('DELETE', `/api/ingest-keys/${encodeURIComponent(id)}`);

/** The datasets fed by ingest keys (`kind: "live"`). */
export async function listLiveDatasets(): Promise<Dataset[]> {
  return (await pages<Dataset>('/api/datasets')).filter((d) => d.kind === 'live');
}

const budgetPath = (datasetId: string) => `/api/datasets/${encodeURIComponent(datasetId)}/budget`;

/** The dataset's budget, or null when it has none (404). */
export async function getBudget(datasetId: string): Promise<Budget | null> {
  try {
    return await api<Budget>('GET', budgetPath(datasetId));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export const putBudget = (datasetId: string, input: BudgetInput) => api<Budget>('PUT', budgetPath(datasetId), input);
export const deleteBudget = (datasetId: string) => api<void>('DELETE', budgetPath(datasetId));

/** The newest alerts first (one page). */
export async function listAlerts(limit = 20): Promise<UsageAlert[]> {
  const body = await api<Page<UsageAlert> | undefined>('GET', `/api/alerts?limit=${limit}`);
  return body?.items ?? [];
}
