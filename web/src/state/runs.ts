// The pure event store: folds the per-user event stream (docs/spec/realtime-protocol.md) into one view per
// run. No I/O and no React here, so the rules the UI relies on are unit-tested directly:
// - events of a run are applied in `seq` order, whatever order they arrive in (live frames, a
//   resume replay and a REST reload can overlap);
// - an event seen twice (same seq) changes nothing;
// - a run has exactly one final state: the first terminal event wins, nothing moves it after;
// - a run belongs to one thread; views are selected per thread, never mixed.

import { AGENT_EVENT_TYPES, isAgentEnvelope, type AgentEnvelope, type Envelope, type FollowUpResult, type Report, type Run } from '../api/types';

export type RunPhase = 'running' | 'completed' | 'failed' | 'cancelled';

export interface AgentNode {
  name: string;
  parent?: string;
  message?: string;
  status: 'running' | 'completed' | 'cancelled' | 'failed';
  startedAt?: string;
  durationMs?: number;
  thinking: number;
}

export type TimelineItem =
  | { kind: 'agent_started'; seq: number; agent: string; parent?: string; message?: string }
  | { kind: 'thinking'; seq: number; agent: string; reasoning: string; step?: number; progress?: number }
  | {
      kind: 'tool';
      seq: number;
      agent: string;
      toolCallId: string;
      toolName: string;
      parameters: unknown;
      done: boolean;
      ok?: boolean;
      result?: unknown;
      error?: string;
      durationMs?: number;
    }
  | { kind: 'agent_completed'; seq: number; agent: string; status: string; durationMs?: number }
  | { kind: 'error'; seq: number; agent: string; code: string; message: string; final: boolean };

export interface RunView {
  id: string;
  threadId?: string;
  phase: RunPhase;
  /** True once the run's single terminal event (or a finished REST snapshot) was applied. */
  final: boolean;
  /** The terminal event itself was applied: nothing after it is folded into the view. */
  terminalSeen: boolean;
  /** Settlement read over REST, kept so a rebuild from events cannot reopen the run. */
  snapshot?: { phase: RunPhase; report?: Report };
  agents: AgentNode[];
  timeline: TimelineItem[];
  answer: string;
  report?: Report;
  /** A follow-up's result (what-if, trend, …): the final event's `result` when it has no report. */
  result?: FollowUpResult;
  error?: { code: string; message: string };
  durationMs?: number;
  /** Every applied event, sorted by seq: the source of truth a view can be rebuilt from. */
  events: Envelope[];
  maxSeq: number;
  firstSeq: number;
}

export interface StreamState {
  /** Highest seq received on the live stream: what a resume asks to continue after. */
  lastSeq: number;
  epoch?: string;
  runs: Record<string, RunView>;
}

export const emptyStream: StreamState = { lastSeq: 0, runs: {} };

export { AGENT_EVENT_TYPES };

const TOP_AGENT = 'apex';

function newRun(id: string, threadId?: string, snapshot?: RunView['snapshot']): RunView {
  return {
    id,
    threadId,
    phase: snapshot?.phase ?? 'running',
    final: snapshot !== undefined,
    terminalSeen: false,
    snapshot,
    report: snapshot?.report,
    agents: [],
    timeline: [],
    answer: '',
    events: [],
    maxSeq: 0,
    firstSeq: Number.MAX_SAFE_INTEGER,
  };
}

export function isTerminal(e: Envelope): boolean {
  if (!isAgentEnvelope(e)) return false;
  if (e.type === 'agent_error') return e.payload?.final === true;
  if (e.type === 'agent_completed') return e.payload?.final === true || (e.agent_name === TOP_AGENT && !e.payload?.parent_agent);
  return false;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** Applies one event to a run that has seen only smaller seqs. Returns a new object. */
function fold(run: RunView, e: Envelope): RunView {
  const seq = e.seq ?? 0;
  const agent = e.agent_name ?? TOP_AGENT;
  const next: RunView = {
    ...run,
    threadId: run.threadId ?? e.thread_id,
    maxSeq: Math.max(run.maxSeq, seq),
    firstSeq: Math.min(run.firstSeq, seq),
  };
  // After the terminal event a run is settled; a late or repeated event cannot reopen it.
  // Unknown agent-level types are kept in `events` but do not change the view.
  if (run.terminalSeen || !isAgentEnvelope(e)) return next;
  return foldAgent(run, next, e, seq, agent);
}

function foldAgent(run: RunView, next: RunView, e: AgentEnvelope, seq: number, agent: string): RunView {
  switch (e.type) {
    case 'agent_started': {
      const p = e.payload ?? {};
      const node: AgentNode = {
        name: agent,
        parent: str(p.parent_agent),
        message: str(p.message),
        status: 'running',
        startedAt: e.timestamp,
        thinking: 0,
      };
      next.agents = [...run.agents.filter((a) => a.name !== agent), node];
      next.timeline = [...run.timeline, { kind: 'agent_started', seq, agent, parent: node.parent, message: node.message }];
      break;
    }
    case 'agent_thinking': {
      const p = e.payload ?? {};
      next.agents = run.agents.map((a) => (a.name === agent ? { ...a, thinking: a.thinking + 1 } : a));
      next.timeline = [
        ...run.timeline,
        { kind: 'thinking', seq, agent, reasoning: str(p.reasoning) ?? '', step: num(p.step), progress: num(p.progress) },
      ];
      break;
    }
    case 'tool_executing': {
      const p = e.payload ?? {};
      next.timeline = [
        ...run.timeline,
        {
          kind: 'tool',
          seq,
          agent,
          toolCallId: str(p.tool_call_id) ?? `seq-${seq}`,
          toolName: str(p.tool_name) ?? 'tool',
          parameters: p.parameters,
          done: false,
        },
      ];
      break;
    }
    case 'tool_completed': {
      const p = e.payload ?? {};
      const id = str(p.tool_call_id);
      const idx = run.timeline.findIndex((t) => t.kind === 'tool' && t.toolCallId === id && !t.done);
      const done = {
        done: true,
        ok: p.ok !== false,
        result: p.result,
        error: str(p.error),
        durationMs: num(p.duration_ms),
      };
      if (idx >= 0) {
        const timeline = [...run.timeline];
        timeline[idx] = { ...(timeline[idx] as Extract<TimelineItem, { kind: 'tool' }>), ...done };
        next.timeline = timeline;
      } else {
        next.timeline = [
          ...run.timeline,
          { kind: 'tool', seq, agent, toolCallId: id ?? `seq-${seq}`, toolName: str(p.tool_name) ?? 'tool', parameters: undefined, ...done },
        ];
      }
      break;
    }
    case 'agent_message_delta': {
      const p = e.payload ?? {};
      next.answer = run.answer + (str(p.delta) ?? '');
      break;
    }
    case 'agent_completed': {
      const p = e.payload ?? {};
      const status = str(p.status) ?? 'completed';
      const durationMs = num(p.duration_ms);
      next.agents = run.agents.map((a) =>
        a.name === agent ? { ...a, status: status === 'cancelled' ? 'cancelled' : 'completed', durationMs } : a,
      );
      next.timeline = [...run.timeline, { kind: 'agent_completed', seq, agent, status, durationMs }];
      if (isTerminal(e)) {
        next.terminalSeen = true;
        next.durationMs = durationMs;
        const report = p.report;
        if (report && typeof report === 'object') next.report = report as Report;
        const result = p.result;
        if (result && typeof result === 'object' && (result as { intent?: unknown }).intent === 'follow_up') next.result = result as FollowUpResult;
        if (!run.final) {
          next.final = true;
          next.phase = status === 'cancelled' ? 'cancelled' : status === 'failed' ? 'failed' : 'completed';
        }
      }
      break;
    }
    case 'agent_error': {
      const p = e.payload ?? {};
      const code = str(p.code) ?? 'error';
      const message = str(p.message) ?? 'The agent failed.';
      const final = isTerminal(e);
      next.timeline = [...run.timeline, { kind: 'error', seq, agent, code, message, final }];
      if (final) {
        next.terminalSeen = true;
        if (!run.final) {
          next.final = true;
          next.phase = 'failed';
          next.error = { code, message };
        }
        next.agents = run.agents.map((a) => (a.status === 'running' ? { ...a, status: 'failed' } : a));
      } else {
        next.agents = run.agents.map((a) => (a.name === agent && a.status === 'running' ? { ...a, status: 'failed' } : a));
      }
      break;
    }
  }
  return next;
}

function rebuild(id: string, threadId: string | undefined, events: Envelope[], snapshot?: RunView['snapshot']): RunView {
  let run = newRun(id, threadId, snapshot);
  for (const e of events) run = fold(run, e);
  run.events = events;
  return run;
}

/**
 * Adds events to their runs. Events without a run id or a seq are not run events and are
 * ignored here. Returns the same object when nothing changed (cheap React bail-out).
 */
export function applyRunEvents(runs: Record<string, RunView>, events: Envelope[]): Record<string, RunView> {
  let out = runs;
  const sorted = [...events].filter((e) => e.run_id && typeof e.seq === 'number' && AGENT_EVENT_TYPES.has(e.type));
  sorted.sort((a, b) => (a.seq as number) - (b.seq as number));
  for (const e of sorted) {
    const id = e.run_id as string;
    const seq = e.seq as number;
    const run = out[id] ?? newRun(id, e.thread_id);
    let updated: RunView;
    if (seq > run.maxSeq) {
      updated = fold(run, e);
      updated.events = [...run.events, e];
    } else {
      if (run.events.some((x) => x.seq === seq)) continue; // duplicate
      const events = [...run.events, e].sort((a, b) => (a.seq as number) - (b.seq as number));
      updated = rebuild(id, run.threadId ?? e.thread_id, events, run.snapshot);
    }
    out = out === runs ? { ...runs } : out;
    out[id] = updated;
  }
  return out;
}

/**
 * Live frame from the WebSocket. Frames at or below `lastSeq` were already delivered (a resume
 * replay overlapping what this client saw) and are dropped whole.
 */
export function applyLiveFrame(state: StreamState, e: Envelope): StreamState {
  if (typeof e.seq !== 'number') return state;
  if (e.seq <= state.lastSeq) return state;
  const runs = e.run_id ? applyRunEvents(state.runs, [e]) : state.runs;
  return { ...state, lastSeq: e.seq, runs };
}

/**
 * Handles `connection_established`. Its `last_seq` is the head of the stream. On a resume of the
 * same epoch the client's own position stands: the replay that follows starts right after it, and
 * jumping to the head would drop that replay as already seen. A first connection or a new epoch
 * starts from the head (what came before is read over REST).
 */
export function setEpoch(state: StreamState, epoch: string | undefined, head: number): StreamState {
  if (state.epoch !== undefined && epoch === state.epoch) return state;
  return { ...state, epoch, lastSeq: head };
}

/** A run read over REST (GET /api/runs/{id}): settles it if the server says it is finished. */
export function applyRunSnapshot(runs: Record<string, RunView>, run: Run): Record<string, RunView> {
  const current = runs[run.id] ?? newRun(run.id, run.thread_id);
  const finished = run.status === 'completed' || run.status === 'failed' || run.status === 'cancelled';
  if (!finished) {
    if (runs[run.id]) return runs;
    return { ...runs, [run.id]: current };
  }
  if (current.final) {
    if (current.report || !run.report) return runs;
    return { ...runs, [run.id]: { ...current, report: run.report } };
  }
  const phase = run.status as RunPhase;
  const settle = (s: AgentNode['status']): AgentNode['status'] => (s === 'running' ? (phase === 'cancelled' ? 'cancelled' : phase === 'failed' ? 'failed' : 'completed') : s);
  return {
    ...runs,
    [run.id]: {
      ...current,
      threadId: current.threadId ?? run.thread_id,
      final: true,
      phase,
      snapshot: { phase, report: run.report ?? undefined },
      report: current.report ?? run.report ?? undefined,
      agents: current.agents.map((a) => ({ ...a, status: settle(a.status) })),
    },
  };
}

/** The runs of one thread, oldest first. */
export function runsOfThread(runs: Record<string, RunView>, threadId: string): RunView[] {
  return Object.values(runs)
    .filter((r) => r.threadId === threadId)
    .sort((a, b) => a.firstSeq - b.firstSeq || (a.id < b.id ? -1 : 1));
}

export function activeRunOfThread(runs: Record<string, RunView>, threadId: string): RunView | undefined {
  return runsOfThread(runs, threadId).find((r) => !r.final);
}
