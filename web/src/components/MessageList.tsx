import { useEffect, useRef } from 'react';
import type { Turn } from '../state/turns';
import { Markdown } from './Markdown';
import { RunBlock } from './RunBlock';

/**
 * The conversation: user messages, runs with their answers and reports. The newest run offers its
 * follow-up suggestions; the list keeps the newest content in view while the reader is at the bottom.
 */
export function MessageList({ turns, onAsk, askDisabled }: { turns: Turn[]; onAsk: (q: string) => void; askDisabled: boolean }) {
  const listRef = useRef<HTMLDivElement>(null);
  // Whether the reader is at the bottom, as of their last scroll: measured after an update it would
  // be wrong, since one update (a report with its chart) can grow the list by more than a screen.
  const atBottom = useRef(true);
  const lastTop = useRef(0);
  const growth = turns.reduce((n, t) => n + 1 + (t.run ? t.run.answer.length + t.run.timeline.length + (t.run.report ? 1 : 0) : 0), 0);
  // The reader's own new question brings the list to the bottom wherever they had scrolled to.
  const asked = turns.filter((t) => t.message && !t.run).length;
  const lastAsked = useRef(asked);
  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (asked > lastAsked.current) atBottom.current = true;
    lastAsked.current = asked;
    if (atBottom.current) el.scrollTop = el.scrollHeight;
  }, [growth, asked]);
  // The turns also grow between updates of their own (a chart laid out, suggestions shown at
  // the end): while the reader is at the bottom, it stays in view.
  useEffect(() => {
    const el = listRef.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => {
      if (atBottom.current) el.scrollTop = el.scrollHeight;
    });
    for (const child of Array.from(el.children)) observer.observe(child);
    return () => observer.disconnect();
  }, [growth, turns.length]);

  return (
    <div
      className="messages"
      ref={listRef}
      data-testid="messages"
      onScroll={(e) => {
        // A scroll event arrives a frame late, when the list may have grown again: only a move up is
        // the reader leaving the bottom; reaching it again re-pins.
        const el = e.currentTarget;
        if (el.scrollHeight - el.scrollTop - el.clientHeight < 80) atBottom.current = true;
        else if (el.scrollTop < lastTop.current) atBottom.current = false;
        lastTop.current = el.scrollTop;
      }}
    >
      {turns.length === 0 && (
        <div className="empty">
          <h2>What would you like to optimise?</h2>
          <p className="muted">
            Upload a usage export (OpenAI, Anthropic, LiteLLM, Langfuse, Helicone and others, as they come) and ask for a plan, or describe your usage: “We spend $5,000/month on GPT-4 for customer
            support, 2M requests. Help me cut costs by 30%.”
          </p>
        </div>
      )}
      {turns.map((t, i) =>
        t.run ? (
          <RunBlock key={t.key} run={t.run} stored={t.stored} onAsk={i === turns.length - 1 ? onAsk : undefined} askDisabled={askDisabled} />
        ) : t.message ? (
          <div key={t.key} className="bubble user" data-testid="user-message">
            <Markdown text={t.message.content} />
          </div>
        ) : t.stored ? (
          <div key={t.key} className="bubble assistant">
            <Markdown text={t.stored.content} />
          </div>
        ) : null,
      )}
    </div>
  );
}
