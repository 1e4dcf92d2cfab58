// Markdown for user and agent text, with raw HTML switched off: an HTML block or inline tag in the
// source is emitted as escaped text, links keep only http(s) targets and paths on this origin, and
// images become plain links (no third-party requests from message content). The output is the only
// HTML the app ever injects, and the page's CSP forbids inline scripts besides.

import { Marked, type Tokens } from 'marked';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const BASE = 'https://apex.invalid/';

/** Backslash, whitespace, C0/C1 controls and line separators: the characters URL parsers rewrite or drop. */
function unsafeChar(c: string): boolean {
  const n = c.codePointAt(0) ?? 0;
  return c === '\\' || n <= 0x20 || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029;
}

/**
 * The target a link may keep: an http(s) URL, or a path or fragment on this origin. Browsers read
 * a backslash as a slash and drop tabs and newlines inside URLs, so `/\evil.example` or `/<tab>/x`
 * would leave the origin: anything with a backslash, whitespace or control character is refused,
 * and a path must still resolve to this origin.
 */
export function safeHref(href: string): string | null {
  const h = href.trim();
  if (!h || [...h].some(unsafeChar)) return null;
  let url: URL;
  try {
    url = new URL(h, BASE);
  } catch {
    return null;
  }
  if (/^https?:\/\/[^/]/i.test(h)) return url.protocol === 'http:' || url.protocol === 'https:' ? h : null;
  if (h.startsWith('#') || (h.startsWith('/') && !h.startsWith('//'))) return url.origin === new URL(BASE).origin ? h : null;
  return null;
}

const md = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text);
    },
    link({ href, title, tokens }: Tokens.Link) {
      const inner = this.parser.parseInline(tokens);
      const safe = safeHref(href);
      if (!safe) return inner;
      const t = title ? ` title="${escapeHtml(title)}"` : '';
      return `<a href="${escapeHtml(safe)}"${t} rel="noopener noreferrer nofollow" target="_blank">${inner}</a>`;
    },
    image({ href, text }: Tokens.Image) {
      const safe = safeHref(href);
      const label = escapeHtml(text || href);
      return safe ? `<a href="${escapeHtml(safe)}" rel="noopener noreferrer nofollow" target="_blank">${label}</a>` : label;
    },
  },
});

export function renderMarkdown(source: string): string {
  return md.parse(source ?? '') as string;
}
