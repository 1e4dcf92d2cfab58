import type { KeyboardEvent, RefObject } from 'react';
import type { Dataset } from '../api/types';

/** The message box: the attached dataset's chip, the upload toggle, Send or Stop. */
export function Composer({
  draft,
  onDraft,
  onSend,
  onStop,
  running,
  sending,
  attached,
  onRemoveAttached,
  uploadOpen,
  onToggleUpload,
  maxChars,
  inputRef,
}: {
  draft: string;
  onDraft: (text: string) => void;
  onSend: () => void;
  onStop: () => void;
  running: boolean;
  sending: boolean;
  attached: Dataset | null;
  onRemoveAttached: () => void;
  uploadOpen: boolean;
  onToggleUpload: () => void;
  maxChars: number;
  inputRef: RefObject<HTMLTextAreaElement | null>;
}) {
  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      onSend();
    }
  }

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        onSend();
      }}
    >
      {attached && (
        <div className="chips" role="group" aria-label="Attached usage data">
          <span className="chip" data-testid="attached-dataset" data-dataset-id={attached.id}>
            <span aria-hidden="true">▤</span>
            <span className="chip-text">
              {attached.name} · {(attached.calls ?? attached.rows).toLocaleString()} {attached.calls !== undefined ? 'calls' : 'rows'}
            </span>
            <button type="button" className="chip-remove" onClick={onRemoveAttached} aria-label={`Remove ${attached.name}`} title={`Remove ${attached.name}`}>
              ✕
            </button>
          </span>
        </div>
      )}
      <div className="composer-row">
        <button type="button" className="icon" onClick={onToggleUpload} aria-label="Upload usage data" aria-expanded={uploadOpen} title="Upload usage data">
          ⬆
        </button>
        <label htmlFor="composer-input" className="visually-hidden">
          Message
        </label>
        <textarea
          id="composer-input"
          ref={inputRef}
          rows={2}
          value={draft}
          placeholder="Ask about your AI costs…"
          aria-describedby="composer-hint"
          onChange={(e) => onDraft(e.target.value)}
          onKeyDown={onKeyDown}
          maxLength={maxChars}
        />
        {running ? (
          <button type="button" className="danger" onClick={onStop}>
            Stop
          </button>
        ) : (
          <button type="submit" className="primary" disabled={sending || !draft.trim()}>
            Send
          </button>
        )}
      </div>
      <p id="composer-hint" className="hint composer-hint">
        Enter sends · Shift+Enter adds a line
      </p>
    </form>
  );
}
