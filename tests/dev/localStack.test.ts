/** The simulator's default target: the local stack's stand-in, from the keys `npm start` made. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { localDeviceConnectionString } from '../../dev/localStack.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('localDeviceConnectionString', () => {
  it("is the send-only device key of this machine's local stack", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-keys-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'local-keys.json'),
      JSON.stringify({ device: 'ZGV2aWNl', app: 'YXBw', webPubSub: 'd3Bz' }),
    );
    expect(localDeviceConnectionString({ LOCAL_DATA_DIR: dir, LOCAL_EVENTHUBS_PORT: '5999' })).toBe(
      'Endpoint=sb://127.0.0.1:5999;SharedAccessKeyName=device;SharedAccessKey=ZGV2aWNl;' +
        'EntityPath=telemetry;UseDevelopmentEmulator=true',
    );
  });

  it('is undefined where the local stack never ran', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-keys-'));
    dirs.push(dir);
    expect(localDeviceConnectionString({ LOCAL_DATA_DIR: dir })).toBeUndefined();
  });
});
