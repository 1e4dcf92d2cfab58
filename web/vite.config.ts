import { defineConfig } from 'vitest/config';

// The server hosts the built files (src/Apex.Server/Web/WebHosting.cs); assets/ holds only
// content-hashed names, which the server caches for a year.
export default defineConfig({
  build: {
    outDir: '../src/Apex.Server/wwwroot',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // No inline <script> or data: module preload shims: the page's CSP allows only 'self' scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
  },
  server: {
    proxy: {
      '/api': 'http://localhost:8080',
      '/auth': 'http://localhost:8080',
      '/ws': { target: 'ws://localhost:8080', ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.{ts,tsx}'],
  },
});
