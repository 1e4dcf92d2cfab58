import { describe, expect, it } from 'vitest';
import { renderMarkdown } from './markdown';

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
