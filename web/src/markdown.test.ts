import { describe, expect, it } from 'vitest';
import { renderMarkdown, safeHref } from './markdown';

describe('renderMarkdown', () => {
  it('renders formatting', () => {
    expect(renderMarkdown('**bold** and `code`')).toContain('<strong>bold</strong>');
    expect(renderMarkdown('| a | b |\n|---|---|\n| 1 | 2 |')).toContain('<table>');
  });

  it('shows raw HTML as text', () => {
    const out = renderMarkdown('<img src=x onerror="alert(1)"> and <script>alert(2)</script>');
    expect(out).not.toMatch(/<img|<script/i);
    expect(out).toContain('&lt;img src=x onerror=&quot;alert(1)&quot;&gt;');
    expect(out).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
  });

  it('escapes HTML blocks', () => {
    const out = renderMarkdown('<div onclick="x()">\nhi\n</div>');
    expect(out).not.toMatch(/<div/i);
    expect(out).toContain('&lt;div');
  });

  it('drops script URLs from links and turns images into links', () => {
    expect(renderMarkdown('[x](javascript:alert(1))')).not.toContain('href');
    const img = renderMarkdown('![logo](https://example.com/a.png)');
    expect(img).not.toContain('<img');
    expect(img).toContain('href="https://example.com/a.png"');
    expect(renderMarkdown('![a](javascript:alert(1))')).not.toContain('javascript');
  });
});

describe('safeHref', () => {
  const blocked = [
    '/\\evil.example',
    '/\\/evil.example',
    '\\\\evil.example',
    '\\/evil.example',
    '//evil.example',
    '///evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    ' javascript:alert(1)',
    'java\tscript:alert(1)',
    'java\nscript:alert(1)',
    'java\u0000script:alert(1)',
    '&#106;avascript:alert(1)',
    '&#x6A;avascript:alert(1)',
    'javascript&colon;alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'DATA:text/html;base64,PHNjcmlwdD4=',
    'vbscript:msgbox(1)',
    'file:///etc/passwd',
    'mailto:x@example.com',
    'http:/\\evil.example',
    'https:evil.example',
    'http://',
    'evil.example',
    'ftp://example.com/',
  ];
  it.each(blocked)('refuses %j', (href) => {
    expect(safeHref(href)).toBeNull();
  });

  const allowed = ['https://example.com/a?b=1#c', 'HTTP://example.com', '/threads/thr_1', '/docs/a%5Cb', '#section', '/'];
  it.each(allowed)('keeps %j', (href) => {
    expect(safeHref(href)).toBe(href);
  });

  it('renders refused links as their text only', () => {
    for (const href of ['/\\evil.example', 'jAvAsCrIpT:alert(1)', 'data:text/html,x', '//evil.example']) {
      const out = renderMarkdown(`[go](${href})`);
      expect(out).not.toContain('<a');
      expect(out).toContain('go');
    }
    expect(renderMarkdown('[x](&#106;avascript:alert(1))')).not.toContain('<a');
    expect(renderMarkdown('<javascript:alert(1)>')).not.toContain('href');
    expect(renderMarkdown('[ok](https://example.com/x)')).toContain('href="https://example.com/x"');
    expect(renderMarkdown('[ok](/threads/thr_1)')).toContain('href="/threads/thr_1"');
  });

  it('never yields a link that leaves the origin other than an http(s) URL written as one', () => {
    const sources = [
      '[a](/\\\\evil.example)',
      '[a](/%5Cevil.example)',
      '[a](<\\/\\/evil.example>)',
      '[a](/&#92;evil.example)',
      '[a](/&#x5c;evil.example)',
      '[a](/&bsol;evil.example)',
      '[a](&#47;&#47;evil.example)',
      '[a](/&#9;/evil.example)',
      '[a]: /\\evil.example\n\n[a]',
      '<https:/\\evil.example>',
      '![a](//evil.example/x.png)',
    ];
    const decode = (s: string) =>
      s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|quot|lt|gt|#39);/gi, (_, e: string) => {
        const named: Record<string, string> = { amp: '&', quot: '"', lt: '<', gt: '>' };
        if (named[e.toLowerCase()]) return named[e.toLowerCase()];
        return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
      });
    for (const src of sources) {
      for (const m of renderMarkdown(src).matchAll(/href="([^"]*)"/g)) {
        const href = decode(m[1]);
        expect(new URL(href, 'https://app.example/').origin, `${src} -> ${href}`).toBe('https://app.example');
      }
    }
  });
});
