import { describe, expect, it } from 'vitest';
import type { Envelope } from '../api/types';
import {
  activeRunOfThread,
  applyLiveFrame,
  applyRunEvents,
  applyRunSnapshot,
  emptyStream,
  runsOfThread,
  setEpoch,
  type StreamState,
} from './runs';

let clock = 0;
function ev(type: string, seq: number, run: string, thread: string, agent: string, payload: Record<string, unknown> = {}): Envelope {
  clock += 1;
  return { type, seq, run_id: run, thread_id: thread, agent_name: agent, timestamp: new Date(1_700_000_000_000 + clock).toISOString(), payload };
}

/** A complete run: the five critical events plus the terminal one, seqs from `start`. */
function fullRun(run: string, thread: string, start: number): Envelope[] {
  let s = start;
  return [
    ev('agent_started', s++, run, thread, 'apex', { message: 'Planning' }),
    ev('agent_thinking', s++, run, thread, 'apex', { reasoning: 'Look at the data', step: 1 }),
    ev('agent_started', s++, run, thread, 'cost_analyst', { message: 'Costs', parent_agent: 'apex' }),
    ev('tool_executing', s++, run, thread, 'cost_analyst', { tool_call_id: 'c1', tool_name: 'summarize_usage', parameters: { dataset_id: 'ds_1' } }),
    ev('tool_completed', s++, run, thread, 'cost_analyst', { tool_call_id: 'c1', tool_name: 'summarize_usage', result: { calls: 3 }, duration_ms: 12, ok: true }),
    ev('agent_completed', s++, run, thread, 'cost_analyst', { status: 'completed', duration_ms: 40 }),
    ev('agent_message_delta', s++, run, thread, 'reporter', { message_id: 'm1', delta: 'You spend ' }),
    ev('agent_message_delta', s++, run, thread, 'reporter', { message_id: 'm1', delta: '$100/month.' }),
    ev('agent_completed', s, run, thread, 'apex', {
      status: 'completed',
      final: true,
      duration_ms: 90,
      report: { summary: 'You spend $100/month.', potential_savings: { monthly_amount: 40 } },
    }),
  ];
}

function live(events: Envelope[], state: StreamState = emptyStream): StreamState {
  return events.reduce(applyLiveFrame, state);
}

describe('ordering by seq', () => {
  it('builds the same view whatever order the events arrive in', () => {
    const events = fullRun('run_a', 'thr_1', 1);
    const inOrder = applyRunEvents({}, events).run_a;
    const shuffled = [events[3], events[8], events[0], events[6], events[5], events[1], events[7], events[2], events[4]];
    let runs = {};
    for (const e of shuffled) runs = applyRunEvents(runs, [e]);
    const view = (runs as Record<string, typeof inOrder>).run_a;

    expect(view.answer).toBe('You spend $100/month.');
    expect(view.timeline.map((t) => t.seq)).toEqual(inOrder.timeline.map((t) => t.seq));
    expect(view.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(view.final).toBe(true);
    expect(view.phase).toBe('completed');
  });

  it('joins a tool call with its result and reports agent durations', () => {
    const view = applyRunEvents({}, fullRun('run_a', 'thr_1', 1)).run_a;
    const tools = view.timeline.filter((t) => t.kind === 'tool');
    expect(tools).toHaveLength(1);
    expect(tools[0]).toMatchObject({ toolName: 'summarize_usage', done: true, ok: true, durationMs: 12, parameters: { dataset_id: 'ds_1' } });
    expect(view.agents.map((a) => [a.name, a.status, a.durationMs])).toEqual([
      ['apex', 'completed', 90],
      ['cost_analyst', 'completed', 40],
    ]);
  });

  it('streams deltas in seq order even when two arrive swapped', () => {
    const [d1, d2] = fullRun('run_a', 'thr_1', 1).slice(6, 8);
    const view = applyRunEvents({}, [d2, d1]).run_a;
    expect(view.answer).toBe('You spend $100/month.');
  });
});

describe('de-duplication after resume', () => {
  it('drops live frames at or below the last seq (a resume replay overlapping what was seen)', () => {
    const events = fullRun('run_a', 'thr_1', 1);
    let state = live(events.slice(0, 7), setEpoch(emptyStream, 'e1', 0)); // connection cut after seq 7
    expect(state.lastSeq).toBe(7);
    state = setEpoch(state, 'e1', 4); // the resumed connection reports the same epoch
    state = live(events.slice(4), state); // server replays from seq 5 (overlap of 5..7)
    const view = state.runs.run_a;
    expect(view.answer).toBe('You spend $100/month.');
    expect(view.timeline.filter((t) => t.kind === 'tool')).toHaveLength(1);
    expect(view.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(state.lastSeq).toBe(9);
  });

  it('merges a REST reload of run events with the live events without doubling text', () => {
    const events = fullRun('run_a', 'thr_1', 1);
    let state = live(events.slice(0, 8));
    // recovered:false: the client reloads the run's events over REST, which overlap the live ones.
    state = { ...state, runs: applyRunEvents(state.runs, events) };
    expect(state.runs.run_a.answer).toBe('You spend $100/month.');
    expect(state.runs.run_a.events).toHaveLength(9);
  });

  it('keeps its own position across a resume of the same epoch and starts from the head on a new epoch', () => {
    let state = setEpoch(emptyStream, 'e1', 0);
    state = live(fullRun('run_a', 'thr_1', 1).slice(0, 4), state);
    expect(state.lastSeq).toBe(4);
    // The resumed connection announces the head (9); the replay of 5..9 follows and must apply.
    state = setEpoch(state, 'e1', 9);
    expect(state.lastSeq).toBe(4);
    state = live(fullRun('run_a', 'thr_1', 1).slice(4), state);
    expect(state.runs.run_a).toMatchObject({ final: true, answer: 'You spend $100/month.' });
    expect(state.runs.run_a.timeline.filter((t) => t.kind === 'tool')).toHaveLength(1);
    state = setEpoch(state, 'e2', 3);
    expect(state.lastSeq).toBe(3);
  });

  it('starts a first connection from the head of the stream', () => {
    expect(setEpoch(emptyStream, 'e1', 42).lastSeq).toBe(42);
  });

  it('ignores frames without a seq (ack, pong, error)', () => {
    const state = applyLiveFrame(emptyStream, { type: 'ack', payload: { received_type: 'user_message' } });
    expect(state).toBe(emptyStream);
  });
});

describe('one final state per run', () => {
  it('keeps the first terminal event and ignores a later one', () => {
    const events = fullRun('run_a', 'thr_1', 1);
    const lateError = ev('agent_error', 10, 'run_a', 'thr_1', 'apex', { code: 'boom', message: 'late', final: true });
    const view = applyRunEvents({}, [...events, lateError]).run_a;
    expect(view.phase).toBe('completed');
    expect(view.error).toBeUndefined();
    expect(view.timeline.filter((t) => t.kind === 'agent_completed' && t.agent === 'apex')).toHaveLength(1);
    expect(view.timeline.some((t) => t.kind === 'error')).toBe(false);
  });

  it('is not final while the stream is cut before the terminal event', () => {
    const view = applyRunEvents({}, fullRun('run_a', 'thr_1', 1).slice(0, 8)).run_a;
    expect(view.final).toBe(false);
    expect(view.phase).toBe('running');
  });

  it('a final agent_error fails the run; a non-final one does not end it', () => {
    const start = ev('agent_started', 1, 'run_b', 'thr_1', 'apex');
    const soft = ev('agent_error', 2, 'run_b', 'thr_1', 'optimizer', { code: 'tool_failed', message: 'retrying', final: false });
    const hard = ev('agent_error', 3, 'run_b', 'thr_1', 'apex', { code: 'provider_down', message: 'Model unavailable', final: true });
    let runs = applyRunEvents({}, [start, soft]);
    expect(runs.run_b.final).toBe(false);
    runs = applyRunEvents(runs, [hard]);
    expect(runs.run_b).toMatchObject({ final: true, phase: 'failed', error: { code: 'provider_down', message: 'Model unavailable' } });
  });

  it('a cancelled run ends cancelled', () => {
    const start = ev('agent_started', 1, 'run_c', 'thr_1', 'apex');
    const done = ev('agent_completed', 2, 'run_c', 'thr_1', 'apex', { status: 'cancelled', final: true });
    expect(applyRunEvents({}, [start, done]).run_c.phase).toBe('cancelled');
  });

  it('a REST snapshot settles a run once and later events do not reopen it', () => {
    const events = fullRun('run_a', 'thr_1', 1);
    let runs = applyRunEvents({}, events.slice(0, 3));
    runs = applyRunSnapshot(runs, { id: 'run_a', thread_id: 'thr_1', status: 'completed', report: { summary: 'S' } });
    expect(runs.run_a).toMatchObject({ final: true, phase: 'completed', report: { summary: 'S' } });
    runs = applyRunEvents(runs, [ev('agent_error', 20, 'run_a', 'thr_1', 'apex', { code: 'x', message: 'y', final: true })]);
    expect(runs.run_a.phase).toBe('completed');
    // Older events filling the history in keep the settled state.
    runs = applyRunEvents(runs, events.slice(3, 5));
    expect(runs.run_a).toMatchObject({ final: true, phase: 'completed' });
  });

  it('a snapshot of a still running run does not settle it', () => {
    const runs = applyRunSnapshot({}, { id: 'run_q', thread_id: 'thr_1', status: 'queued' });
    expect(runs.run_q.final).toBe(false);
  });
});

describe('thread separation', () => {
  it('keeps interleaved runs of two threads apart', () => {
    const a = fullRun('run_a', 'thr_1', 1);
    const b = fullRun('run_b', 'thr_2', 100);
    // Interleave the two streams the way one user's seq numbering would.
    const mixed: Envelope[] = [];
    for (let i = 0; i < a.length; i++) mixed.push(a[i], b[i]);
    let seq = 0;
    const renumbered = mixed.map((e) => ({ ...e, seq: ++seq }));
    const state = live(renumbered);

    const t1 = runsOfThread(state.runs, 'thr_1');
    const t2 = runsOfThread(state.runs, 'thr_2');
    expect(t1.map((r) => r.id)).toEqual(['run_a']);
    expect(t2.map((r) => r.id)).toEqual(['run_b']);
    expect(t1[0].answer).toBe('You spend $100/month.');
    expect(t2[0].answer).toBe('You spend $100/month.');
    expect(t1[0].events.every((e) => e.thread_id === 'thr_1')).toBe(true);
    expect(t2[0].events.every((e) => e.thread_id === 'thr_2')).toBe(true);
  });

  it('reports the active run per thread', () => {
    const a = fullRun('run_a', 'thr_1', 1);
    const runs = applyRunEvents({}, [...a, ev('agent_started', 50, 'run_b', 'thr_2', 'apex')]);
    expect(activeRunOfThread(runs, 'thr_1')).toBeUndefined();
    expect(activeRunOfThread(runs, 'thr_2')?.id).toBe('run_b');
  });

  it('lists a thread runs in the order they started', () => {
    const runs = applyRunEvents({}, [...fullRun('run_2', 'thr_1', 20), ...fullRun('run_1', 'thr_1', 1)]);
    expect(runsOfThread(runs, 'thr_1').map((r) => r.id)).toEqual(['run_1', 'run_2']);
  });
});
