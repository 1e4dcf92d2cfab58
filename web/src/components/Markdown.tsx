import { useMemo } from 'react';
import { renderMarkdown } from '../markdown';

/** Markdown whose raw HTML is escaped (see markdown.ts): the one place the app sets innerHTML. */
export function Markdown({ text, className }: { text: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  return <div className={`md ${className ?? ''}`} dangerouslySetInnerHTML={{ __html: html }} />;
}
