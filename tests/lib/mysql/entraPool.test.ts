/**
 * The Azure (Microsoft Entra) mode of the MySQL pool: settings, TLS options, the token cache,
 * and, against the real MariaDB of the test run, that each new connection signs in with the
 * token the credential hands out (a MariaDB user whose password is that token stands in for
 * the Entra user Azure Database for MySQL checks the token of).
 */
import { randomBytes } from 'node:crypto';
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { ConfigError, loadSection } from '../../../lib/config.js';
import {
  MYSQL_ENTRA_SCOPE,
  createTokenPool,
  mysqlTarget,
  poolOptions,
  tokenSource,
} from '../../../lib/mysql/pool.js';
import { onTestServer } from '../../helpers/database.js';

const hostForm = {
  MYSQL_HOST: 'mysql-abc.mysql.database.azure.com',
  MYSQL_USER: 'id-abc',
  MYSQL_DATABASE: 'sis',
  MYSQL__credential: 'managedidentity',
  MYSQL__clientId: '5b3e4d1c-0000-4000-8000-000000000001',
};

/** A credential that hands out the tokens it is given, recording each request. */
class ScriptedCredential implements TokenCredential {
  readonly requests: string[][] = [];
  constructor(private readonly next: () => AccessToken | Error) {}
  getToken(scopes: string | string[], _options?: GetTokenOptions): Promise<AccessToken | null> {
    this.requests.push(Array.isArray(scopes) ? scopes : [scopes]);
    const value = this.next();
    return value instanceof Error ? Promise.reject(value) : Promise.resolve(value);
  }
}

describe('mysql settings', () => {
  it('accepts the host form and resolves it to the Entra mode', () => {
    const config = loadSection('mysql', hostForm);
    expect(mysqlTarget(config)).toEqual({
      mode: 'entra',
      host: hostForm.MYSQL_HOST,
      port: 3306,
      user: 'id-abc',
      database: 'sis',
      managedIdentityClientId: hostForm.MYSQL__clientId,
    });
    expect(mysqlTarget(loadSection('mysql', { MYSQL_URL: 'mysql://a:b@h/d' })).mode).toBe(
      'password',
    );
  });

  it('wants exactly one of MYSQL_URL and the host form, complete', () => {
    expect(() => loadSection('mysql', {})).toThrow(/MYSQL_URL: required/);
    expect(() => loadSection('mysql', { ...hostForm, MYSQL_URL: 'mysql://a:b@h/d' })).toThrow(
      /MYSQL_HOST: set either MYSQL_URL or MYSQL_HOST[\s\S]*MYSQL__clientId: set either/,
    );
    expect(() => loadSection('mysql', { MYSQL_HOST: 'h.example.com' })).toThrow(
      /MYSQL_USER: required with MYSQL_HOST[\s\S]*MYSQL_DATABASE: required with MYSQL_HOST/,
    );
    expect(() => loadSection('mysql', { ...hostForm, MYSQL__credential: 'password' })).toThrow(
      /MYSQL__credential: expected managedidentity/,
    );
    expect(() => loadSection('mysql', { ...hostForm, MYSQL_HOST: 'a b' })).toThrow(
      /MYSQL_HOST: expected a host name/,
    );
  });

  it('refuses a target it cannot resolve even when validation was skipped', () => {
    expect(() => mysqlTarget({ MYSQL_POOL_SIZE: 1, MYSQL_TLS: false })).toThrow(ConfigError);
  });
});

describe('Entra pool options', () => {
  const options = poolOptions(loadSection('mysql', hostForm));

  it('always uses verified TLS and carries no password', () => {
    expect(options).toMatchObject({
      host: hostForm.MYSQL_HOST,
      port: 3306,
      user: 'id-abc',
      database: 'sis',
      ssl: { minVersion: 'TLSv1.2', rejectUnauthorized: true },
    });
    expect(options.password).toBeUndefined();
  });

  it('answers mysql_clear_password with the connection password, and only over TLS', () => {
    const plugin = options.authPlugins?.['mysql_clear_password'];
    expect(plugin).toBeTypeOf('function');
    const answer = (config: object) =>
      plugin?.({ connection: { config } as never, command: 'auth' })(Buffer.alloc(0));
    expect(answer({ ssl: {}, password: 'tok' })).toEqual(Buffer.from('tok\0'));
    expect(() => answer({ password: 'tok' })).toThrow(/without TLS/);
  });
});

describe('tokenSource', () => {
  const token = (value: string, expiresOnTimestamp: number, refreshAfterTimestamp?: number) => ({
    token: value,
    expiresOnTimestamp,
    ...(refreshAfterTimestamp !== undefined ? { refreshAfterTimestamp } : {}),
  });

  it('asks for the MySQL scope once, then reuses the token until shortly before expiry', async () => {
    let now = 0;
    let issued = 0;
    const credential = new ScriptedCredential(() => token(`t${++issued}`, now + 60 * 60_000));
    const get = tokenSource(credential, { now: () => now, refreshMarginMs: 5 * 60_000 });
    const [a, b] = await Promise.all([get(), get()]);
    expect([a, b]).toEqual(['t1', 't1']);
    expect(credential.requests).toEqual([[MYSQL_ENTRA_SCOPE]]);
    now = 54 * 60_000;
    expect(await get()).toBe('t1');
    now = 55 * 60_000;
    expect(await get()).toBe('t2');
    expect(credential.requests).toHaveLength(2);
  });

  it('refreshes when the credential says so, and falls back to a still-valid token', async () => {
    let now = 0;
    const script: (AccessToken | Error)[] = [
      token('t1', 60 * 60_000, 30 * 60_000),
      new Error('identity endpoint unavailable'),
      token('t2', 120 * 60_000),
    ];
    const credential = new ScriptedCredential(() => script.shift() ?? new Error('no more'));
    const get = tokenSource(credential, { now: () => now });
    expect(await get()).toBe('t1');
    now = 30 * 60_000;
    expect(await get()).toBe('t1'); // the refresh failed; t1 is still valid
    expect(await get()).toBe('t2');
    expect(credential.requests).toHaveLength(3);
    now = 200 * 60_000;
    await expect(get()).rejects.toThrow('no more');
  });

  it('fails when the credential returns no token', async () => {
    const credential: TokenCredential = { getToken: () => Promise.resolve(null) };
    await expect(tokenSource(credential)()).rejects.toThrow(/No access token/);
  });
});

describe('token pool against MariaDB', () => {
  const user = `entra_${randomBytes(4).toString('hex')}`;
  const database = `sis_entra_${randomBytes(4).toString('hex')}`;
  const tokens = ['fake-token-1', 'fake-token-2'].map(
    (t) => `${t}-${randomBytes(8).toString('hex')}`,
  );
  let server: URL;

  beforeAll(async () => {
    server = new URL(inject('mysqlServerUrl'));
    await onTestServer(async (c) => {
      await c.query('CREATE DATABASE ??', [database]);
      await c.query('CREATE USER ?@? IDENTIFIED BY ?', [user, '%', tokens[0]]);
      await c.query('GRANT SELECT ON ??.* TO ?@?', [database, user, '%']);
    });
  });

  afterAll(async () => {
    await onTestServer(async (c) => {
      await c.query('DROP USER IF EXISTS ?@?', [user, '%']);
      await c.query('DROP DATABASE IF EXISTS ??', [database]);
    });
  });

  /** The app's Entra pool options for this server, less TLS (the test server has none). */
  function options() {
    const config = loadSection('mysql', {
      MYSQL_HOST: server.hostname,
      MYSQL_PORT: server.port,
      MYSQL_USER: user,
      MYSQL_DATABASE: database,
      MYSQL_POOL_SIZE: '2',
    });
    const { ssl: _tls, ...rest } = poolOptions(config);
    return rest;
  }

  it('signs each new connection in with the current token', async () => {
    let now = 0;
    let current = tokens[0] ?? '';
    const credential = new ScriptedCredential(() => ({
      token: current,
      expiresOnTimestamp: now + 60 * 60_000,
    }));
    const pool = createTokenPool(options(), tokenSource(credential, { now: () => now }));
    try {
      const first = await pool.getConnection();
      const [rows] = await first.query<RowDataPacket[]>(
        'SELECT CURRENT_USER() AS who, DATABASE() AS db',
      );
      expect(rows[0]).toEqual({ who: `${user}@%`, db: database });
      expect(credential.requests).toEqual([[MYSQL_ENTRA_SCOPE]]);

      // The token rotates (as Entra tokens do); the server now accepts only the new one.
      current = tokens[1] ?? '';
      await onTestServer((c) => c.query('ALTER USER ?@? IDENTIFIED BY ?', [user, '%', current]));
      now = 56 * 60_000;
      // The open connection keeps working; a second, new connection signs in with the new token.
      const second = await pool.getConnection();
      const [again] = await second.query<RowDataPacket[]>('SELECT CURRENT_USER() AS who');
      expect(again[0]?.['who']).toBe(`${user}@%`);
      await first.query('SELECT 1');
      expect(credential.requests).toHaveLength(2);
      first.release();
      second.release();
    } finally {
      await pool.end();
    }
  });

  it('fails to connect with a token the server does not accept, and when there is no token', async () => {
    const wrong = new ScriptedCredential(() => ({
      token: 'not-the-token',
      expiresOnTimestamp: Date.now() + 60 * 60_000,
    }));
    const pool = createTokenPool(options(), tokenSource(wrong));
    try {
      await expect(pool.query('SELECT 1')).rejects.toMatchObject({
        code: 'ER_ACCESS_DENIED_ERROR',
      });
    } finally {
      await pool.end();
    }
    const broken = createTokenPool(
      options(),
      tokenSource(new ScriptedCredential(() => new Error('managed identity unavailable'))),
    );
    try {
      await expect(broken.query('SELECT 1')).rejects.toThrow('managed identity unavailable');
    } finally {
      await broken.end();
    }
  });
});
