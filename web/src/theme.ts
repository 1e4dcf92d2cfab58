// Light and dark themes: the system preference by default (pure CSS, no flash), an explicit
// choice stored and applied as <html data-theme>.

const KEY = 'apex.theme';
export type Theme = 'light' | 'dark';

export function currentTheme(): Theme {
  const set = document.documentElement.dataset.theme;
  if (set === 'light' || set === 'dark') return set;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyStoredTheme() {
  const t = localStorage.getItem(KEY);
  if (t === 'light' || t === 'dark') document.documentElement.dataset.theme = t;
}

export function toggleTheme(): Theme {
  const next: Theme = currentTheme() === 'dark' ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  localStorage.setItem(KEY, next);
  return next;
}
