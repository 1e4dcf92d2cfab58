import { describe, expect, it } from 'vitest';
import { backoffDelay, base64url, resumeUrl } from './socket';

describe('socket helpers', () => {
  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(20, () => 1)).toBe(15000);
    expect(backoffDelay(20, () => 0)).toBe(7500);
  });

  it('resumes with epoch and last_seq, and not before the first epoch', () => {
    expect(resumeUrl('ws://h:1/ws', { lastSeq: 0 })).toBe('ws://h:1/ws');
    expect(resumeUrl('ws://h:1/ws', { epoch: 'e 1', lastSeq: 42 })).toBe('ws://h:1/ws?epoch=e+1&last_seq=42');
  });

  it('encodes the token for the subprotocol as unpadded base64url', () => {
    const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.sig-_';
    const encoded = base64url(token);
    expect(encoded).toMatch(/^[A-Za-z0-9_-]+$/);
    const padded = encoded.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (encoded.length % 4)) % 4);
    expect(atob(padded)).toBe(token);
  });
});
