// REST calls of docs/spec/rest-api.md used by the chat screen.

import { api } from './session';
import type { Envelope, Message, Page, Run, Thread } from './types';

function items<T>(body: Page<T> | T[] | undefined): T[] {
  if (!body) return [];
  return Array.isArray(body) ? body : (body.items ?? []);
}

async function all<T>(path: string): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | null | undefined;
  for (let page = 0; page < 20; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const body = await api<Page<T> | T[]>('GET', `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    out.push(...items(body));
    cursor = Array.isArray(body) ? null : body?.next_cursor;
    if (!cursor) break;
  }
  return out;
}

export const listThreads = (archived: boolean) => all<Thread>(`/api/threads${archived ? '?archived=true' : ''}`);
export const createThread = (title?: string) => api<Thread>('POST', '/api/threads', title ? { title } : {});
export const updateThread = (id: string, patch: { title?: string; archived?: boolean }) => api<Thread>('PATCH', `/api/threads/${encodeURIComponent(id)}`, patch);
export const deleteThread = (id: string) => api<void>('DELETE', `/api/threads/${encodeURIComponent(id)}`);
export const listMessages = (id: string) => all<Message>(`/api/threads/${encodeURIComponent(id)}/messages`);
export const postMessage = (id: string, content: string, datasetId?: string) =>
  api<{ message: Message; run: Run }>('POST', `/api/threads/${encodeURIComponent(id)}/messages`, datasetId ? { content, dataset_id: datasetId } : { content });
export const getRun = (id: string) => api<Run>('GET', `/api/runs/${encodeURIComponent(id)}`);
export const cancelRun = (id: string) => api<void>('POST', `/api/runs/${encodeURIComponent(id)}/cancel`);
export const runEvents = (id: string) => all<Envelope>(`/api/runs/${encodeURIComponent(id)}/events?after_seq=0`);
