import { useState } from 'react';
import { currentTheme, toggleTheme } from '../theme';

export function ThemeToggle() {
  const [theme, setTheme] = useState(currentTheme);
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button type="button" className="icon" onClick={() => setTheme(toggleTheme())} aria-label={`Switch to ${next} theme`} title={`Switch to ${next} theme`}>
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}
