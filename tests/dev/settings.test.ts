import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { localAppSettings, projectRoot, readSettingsFile } from '../../dev/settings.js';
import { settingNames } from '../../lib/config.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sis-settings-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(name: string, values: Record<string, string>) {
  writeFileSync(join(root, name), JSON.stringify({ IsEncrypted: false, Values: values }));
}

describe('readSettingsFile', () => {
  it('is empty without settings files', () => {
    expect(readSettingsFile(root)).toEqual({});
  });

  it('reads the example when there is no local.settings.json', () => {
    write('local.settings.example.json', { PORT: '7071', MYSQL_POOL_SIZE: '10' });
    expect(readSettingsFile(root)).toEqual({ PORT: '7071', MYSQL_POOL_SIZE: '10' });
  });

  it('prefers local.settings.json over the example', () => {
    write('local.settings.example.json', { PORT: '7071', MYSQL_URL: '' });
    write('local.settings.json', { PORT: '8080', MYSQL_URL: 'mysql://root@127.0.0.1:3306/mine' });
    const settings = readSettingsFile(root);
    expect(settings['PORT']).toBe('8080');
    expect(settings['MYSQL_URL']).toBe('mysql://root@127.0.0.1:3306/mine');
  });

  it('drops empty strings so they mean "use the default"', () => {
    write('local.settings.json', { MYSQL_URL: '', AUTH_ISSUER: '', PORT: '9000', SPACE: ' ' });
    expect(readSettingsFile(root)).toEqual({ PORT: '9000', SPACE: ' ' });
  });

  it('accepts a file without Values', () => {
    writeFileSync(join(root, 'local.settings.json'), JSON.stringify({ IsEncrypted: false }));
    expect(readSettingsFile(root)).toEqual({});
  });

  it('refuses non-string values, naming the file', () => {
    writeFileSync(
      join(root, 'local.settings.json'),
      JSON.stringify({ Values: { PORT: 7071, MYSQL_TLS: false } }),
    );
    expect(() => readSettingsFile(root)).toThrow(/local\.settings\.json has no valid "Values"/);
  });

  it('the shipped example lists every setting the app reads, with no credentials', () => {
    const raw = JSON.parse(
      readFileSync(join(projectRoot, 'local.settings.example.json'), 'utf8'),
    ) as { Values: Record<string, string> };
    for (const name of settingNames) expect(Object.keys(raw.Values), name).toContain(name);
    expect(raw.Values['MYSQL_URL']).toBe('');
    // Read through readSettingsFile, its empty values are dropped.
    const copy = mkdtempSync(join(tmpdir(), 'sis-settings-'));
    try {
      writeFileSync(join(copy, 'local.settings.example.json'), JSON.stringify(raw));
      const values = readSettingsFile(copy);
      expect(values).not.toHaveProperty('MYSQL_URL');
      expect(values).not.toHaveProperty('AUTH_ISSUER');
      expect(values['PORT']).toBe('7071');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});

describe('localAppSettings', () => {
  it('takes the environment where it sets a value and the file elsewhere, writing nothing back', () => {
    write('local.settings.json', { PORT: '9000', MYSQL_POOL_SIZE: '7', EVENTHUB_NAME: 'file' });
    const env = { PORT: '9100', EVENTHUB_NAME: '', SIS_TEST_ONLY: 'x' };
    expect(localAppSettings(root, env)).toEqual({
      PORT: '9100',
      MYSQL_POOL_SIZE: '7',
      EVENTHUB_NAME: 'file',
      SIS_TEST_ONLY: 'x',
    });
    expect(env).toEqual({ PORT: '9100', EVENTHUB_NAME: '', SIS_TEST_ONLY: 'x' });
  });
});
