import { useState } from 'react';

/** Copies `text`; says so in a polite live region (or that it could not, so the user selects it by hand). */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <>
      <button
        type="button"
        className="small"
        aria-label={label}
        onClick={() => {
          void (async () => {
            try {
              await navigator.clipboard.writeText(text);
              setState('copied');
            } catch {
              setState('failed');
            }
          })();
        }}
      >
        Copy
      </button>
      <span className="copy-status small muted" role="status" aria-live="polite">
        {state === 'copied' ? 'Copied.' : state === 'failed' ? 'Copying failed: select the text and copy it.' : ''}
      </span>
    </>
  );
}
