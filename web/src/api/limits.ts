// Limits the server enforces, read from GET /api/config/public `limits` so the app checks the
// same numbers before sending (the server still validates). A server that publishes none gets the
// documented defaults (rest-api.md: uploads up to 50 MB).

import type { PublicConfig } from './types';

export interface Limits {
  /** Largest upload body in bytes. */
  maxUploadBytes: number;
  /** Longest message in characters. */
  maxMessageChars: number;
}

export const defaultLimits: Limits = { maxUploadBytes: 50 * 1024 * 1024, maxMessageChars: 32_000 };

function positive(v: unknown): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.floor(n) : undefined;
}

export function limitsOf(config: PublicConfig | undefined): Limits {
  const f = config?.limits ?? config?.features;
  const map: Record<string, unknown> = f && !Array.isArray(f) && typeof f === 'object' ? f : {};
  return {
    maxUploadBytes: positive(map.max_upload_bytes) ?? defaultLimits.maxUploadBytes,
    maxMessageChars: positive(map.max_message_chars) ?? defaultLimits.maxMessageChars,
  };
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${Math.round((n / (1024 * 1024)) * 10) / 10} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}
