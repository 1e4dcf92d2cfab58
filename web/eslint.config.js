// Lint for the web app: TypeScript's recommended rules and React's hooks rules (the rules of
// hooks, effect dependencies, and the compiler-backed checks of eslint-plugin-react-hooks).
// `npm test` runs it before the unit tests.

import js from '@eslint/js';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules', 'bench', '../src/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  reactHooks.configs.flat.recommended,
  {
    files: ['src/**/*.{ts,tsx}', 'vite.config.ts', 'eslint.config.js'],
    languageOptions: { globals: { ...globals.browser }, ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      'react-hooks/exhaustive-deps': 'error',
      // Destructuring a key out to drop it (`const { [id]: _gone, ...rest } = m`) is the idiom here.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
);
