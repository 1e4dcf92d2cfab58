import { useId } from 'react';

/** Questions the agent suggests asking next; a click sends one in the same conversation. */
export function FollowUps({ questions, onAsk, disabled }: { questions: string[]; onAsk: (q: string) => void; disabled?: boolean }) {
  const id = useId();
  const list = [...new Set(questions.filter((q) => typeof q === 'string' && q.trim()))].slice(0, 6);
  if (list.length === 0) return null;
  return (
    <section className="follow-ups" aria-labelledby={`${id}-h`} data-testid="follow-ups">
      <h4 id={`${id}-h`} className="muted small">
        Ask next
      </h4>
      <ul>
        {list.map((q) => (
          <li key={q}>
            <button type="button" className="suggestion" disabled={disabled} onClick={() => onAsk(q)}>
              {q}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
