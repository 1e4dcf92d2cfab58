// Orders a thread's stored messages and its runs into turns: a user message, then the run it
// started (with the stored answer of that run), runs not stored yet last.

import type { Message } from '../api/types';
import type { RunView } from './runs';

/** A turn of the conversation: a message, and the run it started or answered. */
export type Turn = { key: string; message?: Message; run?: RunView; stored?: Message };

export function turnsOf(messages: Message[], runs: RunView[]): Turn[] {
  const byId = new Map(runs.map((r) => [r.id, r]));
  const answered = new Map<string, Message>();
  for (const m of messages) if (m.role === 'assistant' && m.run_id) answered.set(m.run_id, m);
  const placed = new Set<string>();
  const out: Turn[] = [];
  for (const m of messages) {
    const rid = m.run_id ?? undefined;
    if (m.role === 'user') {
      out.push({ key: m.id, message: m });
      if (rid && byId.has(rid) && !placed.has(rid)) {
        placed.add(rid);
        out.push({ key: rid, run: byId.get(rid), stored: answered.get(rid) });
      }
    } else if (rid && byId.has(rid)) {
      if (!placed.has(rid)) {
        placed.add(rid);
        out.push({ key: rid, run: byId.get(rid), stored: m });
      }
    } else {
      out.push({ key: m.id, stored: m });
    }
  }
  // Runs whose messages are not stored yet (started here a moment ago, or from another tab).
  for (const r of runs) if (!placed.has(r.id)) out.push({ key: r.id, run: r });
  return out;
}

