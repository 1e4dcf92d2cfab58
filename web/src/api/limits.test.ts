import { describe, expect, it } from 'vitest';
import { defaultLimits, formatBytes, limitsOf } from './limits';

describe('limits from the public config', () => {
  it('reads the published limits', () => {
    expect(limitsOf({ features: { chat: true }, limits: { max_upload_bytes: 1048576, max_message_chars: 4000 } })).toEqual({
      maxUploadBytes: 1048576,
      maxMessageChars: 4000,
    });
  });

  it('falls back to the documented defaults', () => {
    expect(limitsOf(undefined)).toEqual(defaultLimits);
    expect(limitsOf({ features: ['chat'] })).toEqual(defaultLimits);
    expect(limitsOf({ features: { max_upload_bytes: -1, max_message_chars: 'lots' } })).toEqual(defaultLimits);
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MB');
  });
});
