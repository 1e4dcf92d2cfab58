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
  const growth = turns.reduce((n, t) => n + 1 + (t.run ? t.run.answer.length + t.run.timeline.length : 0), 0);
  useEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (el.scrollHeight - el.scrollTop - el.clientHeight < 200) el.scrollTop = el.scrollHeight;
  }, [growth]);

  return (
    <div className="messages" ref={listRef} data-testid="messages">
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
