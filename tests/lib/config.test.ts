import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadSection, settingNames } from '../../lib/config.js';
import { defaultEscalationPolicy } from '../../lib/telemetry/escalation.js';

/** The project's root folder: the one holding package.json above lib/ and tests/. */
const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

const good = {
  MYSQL_URL: 'mysql://app:pw@db.example.com:3306/sis',
  AUTH_ISSUER: 'https://login.example.com/tenant/v2.0',
  AUTH_AUDIENCE: 'api://sis',
  AUTH_JWKS_URI: 'https://login.example.com/tenant/discovery/v2.0/keys',
  COSMOS__accountEndpoint: 'https://sis.documents.azure.com:443/',
  WEBPUBSUB__endpoint: 'https://sis.webpubsub.azure.com',
  REDIS_URL: 'redis://cache.example.com:6379',
};

/** The ConfigError thrown for `env`, failing the test when something else happens. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('loadConfig accepted an invalid environment');
}

describe('ALERT_ESCALATION_POLICY', () => {
  it('defaults to the documented policy and takes a JSON policy', () => {
    const defaults = loadSection('escalation', {}).ALERT_ESCALATION_POLICY;
    expect(defaults.critical.steps.map((s) => [s.afterMinutes, s.notify])).toEqual([
      [10, 'technicians'],
      [20, 'admins'],
    ]);
    const custom = loadSection('escalation', {
      ALERT_ESCALATION_POLICY: '{"critical": {"steps": [{"afterMinutes": 1, "notify": "admins"}]}}',
    }).ALERT_ESCALATION_POLICY;
    expect(custom.critical).toEqual({ steps: [{ afterMinutes: 1, notify: 'admins' }] });
    expect(custom.high).toEqual(defaults.high);
  });

  it('stops start-up naming the setting and the faulty part', () => {
    expect(
      configError({
        ...good,
        ALERT_ESCALATION_POLICY:
          '{"critical": {"steps": [{"afterMinutes": -1, "notify": "x"}]}, "low": {}}',
      }).problems,
    ).toEqual([
      'ALERT_ESCALATION_POLICY: /critical/steps/0/afterMinutes: expected more than 0 minutes',
      expect.stringMatching(/^ALERT_ESCALATION_POLICY: \/critical\/steps\/0\/notify: /),
      'ALERT_ESCALATION_POLICY: /low: unknown key',
    ]);
    expect(configError({ ...good, ALERT_ESCALATION_POLICY: '{critical' }).problems).toEqual([
      expect.stringMatching(/^ALERT_ESCALATION_POLICY: not valid JSON: /),
    ]);
  });
});

describe('loadSection', () => {
  it('validates only the settings of one section', () => {
    const mysql = loadSection('mysql', { MYSQL_URL: good.MYSQL_URL });
    expect(mysql).toEqual({
      MYSQL_URL: good.MYSQL_URL,
      MYSQL_POOL_SIZE: 10,
      MYSQL_TLS: false,
      MYSQL_CONNECT_TIMEOUT_MS: 3000,
      MYSQL_ACQUIRE_TIMEOUT_MS: 3000,
      MYSQL_QUERY_TIMEOUT_MS: 5000,
    });
    expect(() => loadSection('cosmos', { MYSQL_URL: good.MYSQL_URL })).toThrow(
      /COSMOS__accountEndpoint: required/,
    );
  });

  it('reads offline timeouts by type, and refuses bad ones naming the setting', () => {
    expect(loadSection('telemetry', {}).OFFLINE_TIMEOUT_MINUTES).toEqual({
      default: 15,
      types: {},
    });
    expect(
      loadSection('telemetry', {
        OFFLINE_TIMEOUT_MINUTES: '{"default": 10, "types": {"Compressor": 30}}',
      }).OFFLINE_TIMEOUT_MINUTES,
    ).toEqual({ default: 10, types: { Compressor: 30 } });
    for (const bad of ['{"default": 0}', '{"types": {"Pump": 10081}}', '{"Pump": 5}', 'fifteen']) {
      expect(() => loadSection('telemetry', { OFFLINE_TIMEOUT_MINUTES: bad })).toThrow(
        /OFFLINE_TIMEOUT_MINUTES: /,
      );
    }
  });

  it('refuses a Cosmos endpoint that is not https and a credential it does not know', () => {
    expect(() =>
      loadSection('cosmos', {
        COSMOS__accountEndpoint: 'http://x.example.com',
        COSMOS__credential: 'password',
      }),
    ).toThrow(
      /COSMOS__accountEndpoint: expected a URL with protocol https:[\s\S]*COSMOS__credential/,
    );
  });
});

describe('the event handler token settings', () => {
  const tokenSettings = {
    WEBPUBSUB_EVENTS_AUDIENCE: 'api://events',
    WEBPUBSUB_EVENTS_ISSUER: 'https://login.microsoftonline.com/tenant/v2.0',
    WEBPUBSUB_EVENTS_JWKS_URI: 'https://login.microsoftonline.com/tenant/discovery/v2.0/keys',
    WEBPUBSUB_EVENTS_PRINCIPAL_ID: '11111111-2222-3333-4444-555555555555',
  };

  it('takes all of them or none', () => {
    const base = { WEBPUBSUB__endpoint: 'https://sis.webpubsub.azure.com' };
    expect(loadSection('webPubSub', base).WEBPUBSUB_EVENTS_AUDIENCE).toBeUndefined();
    expect(loadSection('webPubSub', { ...base, ...tokenSettings })).toMatchObject(tokenSettings);
    expect(() =>
      loadSection('webPubSub', { ...base, ...tokenSettings, WEBPUBSUB_EVENTS_PRINCIPAL_ID: '' }),
    ).toThrow(
      /WEBPUBSUB_EVENTS_PRINCIPAL_ID: required with the other WEBPUBSUB_EVENTS_\* settings/,
    );
    expect(() => loadConfig({ ...good, WEBPUBSUB_EVENTS_AUDIENCE: 'api://events' })).toThrow(
      /WEBPUBSUB_EVENTS_ISSUER: required with the other/,
    );
  });
});

describe('the dashboard section', () => {
  it('defaults DASHBOARD_DIR to dist/dashboard under the project root', () => {
    expect(loadSection('dashboard', {})).toEqual({
      DASHBOARD_DIR: join(projectRoot, 'dist', 'dashboard'),
    });
  });

  it('keeps an absolute DASHBOARD_DIR and resolves a relative one from the working folder', () => {
    expect(loadSection('dashboard', { DASHBOARD_DIR: '/srv/dashboard' })).toEqual({
      DASHBOARD_DIR: '/srv/dashboard',
    });
    expect(loadSection('dashboard', { DASHBOARD_DIR: 'build/ui' })).toEqual({
      DASHBOARD_DIR: resolve('build/ui'),
    });
  });
});

describe('loadConfig', () => {
  it('accepts a complete environment and applies defaults', () => {
    expect(loadConfig(good)).toEqual({
      ...good,
      MYSQL_POOL_SIZE: 10,
      MYSQL_TLS: false,
      MYSQL_CONNECT_TIMEOUT_MS: 3000,
      MYSQL_ACQUIRE_TIMEOUT_MS: 3000,
      MYSQL_QUERY_TIMEOUT_MS: 5000,
      AUTH_TRUST_PLATFORM_PRINCIPAL: false,
      COSMOS_DATABASE: 'sis',
      COSMOS_REQUEST_TIMEOUT_MS: 5000,
      COSMOS_ENDPOINT_DISCOVERY: false,
      EVENTHUB_NAME: 'telemetry',
      EVENTHUB_CONSUMER_GROUP: '$Default',
      TELEMETRY_ALLOWED_LATENESS_SECONDS: 60,
      TELEMETRY_IDLE_GRACE_SECONDS: 120,
      AGGREGATE_TTL_DAYS: 90,
      DEAD_LETTER_TTL_DAYS: 14,
      ALERT_ESCALATION_POLICY: defaultEscalationPolicy,
      ALERT_CLEAR_WINDOWS: 2,
      ALERT_FLAP_MINUTES: 30,
      SMS_SEVERITIES: ['critical'],
      OFFLINE_TIMEOUT_MINUTES: { default: 15, types: {} },
      WEBPUBSUB_HUB: 'sis',
      WEBPUBSUB_TOKEN_MINUTES: 10,
      EQUIPMENT_STATUS_INTERVAL_SECONDS: 5,
      DASHBOARD_DIR: join(projectRoot, 'dist', 'dashboard'),
      TRACES_SAMPLING_RATIO: 1,
      REDIS_PORT: 10_000,
      REDIS_KEY_PREFIX: 'sis:',
      REDIS_TIMEOUT_MS: 1000,
      WEBHOOK_ALLOW_LOOPBACK_HTTP: false,
      WEBHOOK_DISABLE_AFTER_FAILURES: 100,
      WEBHOOK_TIMEOUT_MS: 5000,
      WEBHOOK_MAX_RESPONSE_BYTES: 65_536,
    });
  });

  it('takes at most one keeper of webhook secrets, and loopback deliveries never in Azure', () => {
    const keyId = 'https://kv-x.vault.azure.net/keys/webhook-secrets';
    expect(loadConfig({ ...good, WEBHOOK_SECRET_KEY_ID: keyId })).toMatchObject({
      WEBHOOK_SECRET_KEY_ID: keyId,
      WEBHOOK_ALLOW_LOOPBACK_HTTP: false,
    });
    expect(
      configError({ ...good, WEBHOOK_SECRET_KEY_ID: keyId, WEBHOOK_SECRET_KEY_FILE: '/k' })
        .problems,
    ).toEqual(['WEBHOOK_SECRET_KEY_FILE: set either this or WEBHOOK_SECRET_KEY_ID']);
    expect(
      configError({ ...good, WEBHOOK_SECRET_KEY_ID: keyId, WEBHOOK_ALLOW_LOOPBACK_HTTP: 'true' })
        .problems,
    ).toEqual([
      'WEBHOOK_ALLOW_LOOPBACK_HTTP: only for the local stack, never with WEBHOOK_SECRET_KEY_ID',
    ]);
    expect(
      configError({ ...good, WEBHOOK_SECRET_KEY_ID: 'http://kv-x.vault.azure.net/keys/k' })
        .problems,
    ).toEqual(['WEBHOOK_SECRET_KEY_ID: expected a URL with protocol https:']);
    expect(configError({ ...good, WEBHOOK_DISABLE_AFTER_FAILURES: '0' }).problems).toEqual([
      'WEBHOOK_DISABLE_AFTER_FAILURES: expected a whole number from 1 to 100000',
    ]);
  });

  it('needs exactly one way to Redis, and Entra settings only with a host name', () => {
    const { REDIS_URL: _url, ...noRedis } = good;
    expect(configError(noRedis).problems).toContain(
      'REDIS_URL: set exactly one of REDIS_URL and REDIS__hostName',
    );
    expect(
      configError({ ...good, REDIS__hostName: 'redis-x.swedencentral.redis.azure.net' }).problems,
    ).toContain('REDIS_URL: set exactly one of REDIS_URL and REDIS__hostName');
    expect(configError({ ...good, REDIS__credential: 'managedidentity' }).problems).toContain(
      'REDIS__credential: only with REDIS__hostName',
    );
    expect(configError({ ...good, REDIS_URL: 'http://cache.example.com' }).problems).toEqual([
      'REDIS_URL: expected a URL with protocol redis: or rediss:',
    ]);
    expect(configError({ ...good, REDIS_KEY_PREFIX: 'has space' }).problems).toEqual([
      'REDIS_KEY_PREFIX: expected 1-64 letters, digits or _.:-',
    ]);
    expect(
      loadConfig({
        ...noRedis,
        REDIS__hostName: 'redis-x.swedencentral.redis.azure.net',
        REDIS__credential: 'managedidentity',
        REDIS__clientId: '00000000-0000-4000-8000-000000000001',
      }),
    ).toMatchObject({
      REDIS__hostName: 'redis-x.swedencentral.redis.azure.net',
      REDIS_PORT: 10_000,
    });
  });

  it('parses explicit numbers and booleans', () => {
    const config = loadConfig({
      ...good,
      MYSQL_POOL_SIZE: '25',
      MYSQL_TLS: 'true',
      AUTH_TRUST_PLATFORM_PRINCIPAL: 'yes',
    });
    expect(config.MYSQL_POOL_SIZE).toBe(25);
    expect(config.MYSQL_TLS).toBe(true);
    expect(config.AUTH_TRUST_PLATFORM_PRINCIPAL).toBe(true);
    expect(loadConfig({ ...good, MYSQL_TLS: '0' }).MYSQL_TLS).toBe(false);
  });

  it('ignores variables it does not read', () => {
    const config = loadConfig({ ...good, PATH: '/usr/bin', UNRELATED: 'x' });
    expect(Object.keys(config).every((key) => (settingNames as string[]).includes(key))).toBe(true);
    expect(config).not.toHaveProperty('PATH');
  });

  it('names every missing and invalid setting in one error', () => {
    const error = configError({
      MYSQL_URL: undefined,
      AUTH_ISSUER: good.AUTH_ISSUER,
      AUTH_AUDIENCE: undefined,
      AUTH_JWKS_URI: good.AUTH_JWKS_URI,
      MYSQL_POOL_SIZE: 'abc',
      MYSQL_TLS: 'maybe',
      COSMOS__accountEndpoint: good.COSMOS__accountEndpoint,
      WEBPUBSUB__endpoint: good.WEBPUBSUB__endpoint,
      REDIS_URL: good.REDIS_URL,
    });
    expect(error.name).toBe('ConfigError');
    const named = error.problems.map((problem) => problem.split(':')[0]).sort();
    expect(named).toEqual(['AUTH_AUDIENCE', 'MYSQL_POOL_SIZE', 'MYSQL_TLS', 'MYSQL_URL']);
    for (const name of named) expect(error.message).toContain(name);
    expect(error.problems).toContain('MYSQL_URL: required');
    expect(error.problems).toContain('AUTH_AUDIENCE: required');
  });

  it('takes the hysteresis settings, and refuses bad ones naming them', () => {
    const config = loadConfig({ ...good, ALERT_CLEAR_WINDOWS: '3', ALERT_FLAP_MINUTES: '0' });
    expect([config.ALERT_CLEAR_WINDOWS, config.ALERT_FLAP_MINUTES]).toEqual([3, 0]);
    const error = configError({ ...good, ALERT_CLEAR_WINDOWS: '0', ALERT_FLAP_MINUTES: '1.5' });
    expect(error.problems).toEqual([
      'ALERT_CLEAR_WINDOWS: expected a whole number from 1 to 100',
      'ALERT_FLAP_MINUTES: expected a whole number',
    ]);
  });

  it('takes the email and SMS settings, and refuses bad ones naming them', () => {
    const config = loadConfig({
      ...good,
      COMMUNICATION__endpoint: 'https://sis.unitedstates.communication.azure.com',
      EMAIL_SENDER_ADDRESS: 'DoNotReply@example.azurecomm.net',
      SMS_FROM_NUMBER: '+18005550100',
      SMS_SEVERITIES: 'critical, high',
    });
    expect(config.SMS_SEVERITIES).toEqual(['high', 'critical']);
    const error = configError({
      ...good,
      COMMUNICATION__endpoint: 'http://sis.example',
      EMAIL_SENDER_ADDRESS: 'not an address',
      SMS_FROM_NUMBER: '0800 555',
      SMS_SEVERITIES: 'critical,urgent',
    });
    expect(error.problems.map((problem) => problem.split(':')[0])).toEqual([
      'COMMUNICATION__endpoint',
      'EMAIL_SENDER_ADDRESS',
      'SMS_FROM_NUMBER',
      'SMS_SEVERITIES',
    ]);
  });

  it('accepts the Azure form of MySQL (host, Entra user, database) instead of MYSQL_URL', () => {
    const azure = {
      ...good,
      MYSQL_URL: undefined,
      MYSQL_HOST: 'mysql-x.mysql.database.azure.com',
      MYSQL_USER: 'id-x',
      MYSQL_DATABASE: 'sis',
      MYSQL__credential: 'managedidentity',
      MYSQL__clientId: '00000000-0000-4000-8000-000000000001',
    };
    expect(loadConfig(azure)).toMatchObject({ MYSQL_HOST: azure.MYSQL_HOST, MYSQL_USER: 'id-x' });
    const both = configError({ ...azure, MYSQL_URL: good.MYSQL_URL, MYSQL_POOL_SIZE: 'abc' });
    expect(both.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'MYSQL_DATABASE',
      'MYSQL_HOST',
      'MYSQL_POOL_SIZE',
      'MYSQL_USER',
      'MYSQL__clientId',
      'MYSQL__credential',
    ]);
  });

  it('takes a read replica in the form of the primary: MYSQL_READ_URL or MYSQL_READ_HOST', () => {
    const replicaUrl = 'mysql://reader:pw@replica.example.com:3306/sis';
    expect(loadConfig({ ...good, MYSQL_READ_URL: replicaUrl })).toMatchObject({
      MYSQL_READ_URL: replicaUrl,
    });
    const azure = {
      ...good,
      MYSQL_URL: undefined,
      MYSQL_HOST: 'mysql-x.mysql.database.azure.com',
      MYSQL_USER: 'id-x',
      MYSQL_DATABASE: 'sis',
    };
    const replicaHost = 'mysql-x-replica.mysql.database.azure.com';
    expect(loadConfig({ ...azure, MYSQL_READ_HOST: replicaHost })).toMatchObject({
      MYSQL_READ_HOST: replicaHost,
    });
    expect(configError({ ...azure, MYSQL_READ_URL: replicaUrl }).problems).toEqual([
      'MYSQL_READ_URL: with MYSQL_HOST, set MYSQL_READ_HOST',
    ]);
    expect(configError({ ...good, MYSQL_READ_HOST: replicaHost }).problems).toEqual([
      'MYSQL_READ_HOST: with MYSQL_URL, set MYSQL_READ_URL',
    ]);
    for (const [name, value] of [
      ['MYSQL_READ_URL', 'http://replica.example.com/sis'],
      ['MYSQL_READ_HOST', 'replica host; DROP'],
    ] as const) {
      const error = configError({ ...(name === 'MYSQL_READ_URL' ? good : azure), [name]: value });
      expect(error.problems).toEqual([expect.stringMatching(new RegExp(`^${name}: `))]);
    }
  });

  it('refuses a MYSQL_URL that is not mysql:', () => {
    const error = configError({ ...good, MYSQL_URL: 'http://db.example.com/sis' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^MYSQL_URL: .*mysql:/);
  });

  it.each([
    ['MYSQL_CONNECT_TIMEOUT_MS', '99'],
    ['MYSQL_ACQUIRE_TIMEOUT_MS', '60001'],
    ['MYSQL_QUERY_TIMEOUT_MS', '1.5'],
    ['COSMOS_REQUEST_TIMEOUT_MS', 'soon'],
    ['COSMOS_ENDPOINT_DISCOVERY', 'maybe'],
  ])('refuses %s=%j, naming it', (name, value) => {
    const error = configError({ ...good, [name]: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it.each(['abc', '0', '-3', '2.5', '201'])('refuses MYSQL_POOL_SIZE %j', (value) => {
    const error = configError({ ...good, MYSQL_POOL_SIZE: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/^MYSQL_POOL_SIZE: /);
  });

  it('refuses a MYSQL_TLS that is not a boolean', () => {
    const error = configError({ ...good, MYSQL_TLS: 'maybe' });
    expect(error.problems).toEqual([expect.stringMatching(/^MYSQL_TLS: /)]);
  });

  it('counts empty and blank strings as missing', () => {
    const error = configError({ ...good, AUTH_ISSUER: '', AUTH_AUDIENCE: '   ' });
    expect([...error.problems].sort()).toEqual([
      'AUTH_AUDIENCE: required',
      'AUTH_ISSUER: required',
    ]);
    // An empty optional setting falls back to its default rather than failing.
    expect(loadConfig({ ...good, MYSQL_POOL_SIZE: '', MYSQL_TLS: '' })).toMatchObject({
      MYSQL_POOL_SIZE: 10,
      MYSQL_TLS: false,
    });
  });

  it('names every setting when the environment is empty', () => {
    const error = configError({});
    expect([...error.problems].sort()).toEqual([
      'AUTH_AUDIENCE: required',
      'AUTH_ISSUER: required',
      'AUTH_JWKS_URI: required',
      'COSMOS__accountEndpoint: required',
      'MYSQL_URL: required',
      'REDIS_URL: set exactly one of REDIS_URL and REDIS__hostName',
      'WEBPUBSUB__endpoint: required',
    ]);
  });

  it('never echoes the values of settings', () => {
    const secret = 'Sup3r-S3cret-Pa55';
    const error = configError({
      ...good,
      MYSQL_URL: `http://admin:${secret}@db.example.com/sis`,
      AUTH_JWKS_URI: `ftp://keys-${secret}.example.com/`,
      MYSQL_POOL_SIZE: secret,
      MYSQL_TLS: secret,
    });
    expect(error.problems).toHaveLength(4);
    expect(error.message).not.toContain(secret);
    expect(error.message).not.toContain('db.example.com');
  });

  // Bug: the protocol refinement calls `new URL(value)` even when the value is not a URL, so
  // a malformed URL escapes as a bare TypeError instead of a ConfigError naming the setting.
  it('reports a MYSQL_URL that is not a URL at all as a ConfigError naming it', () => {
    const error = configError({ ...good, MYSQL_URL: 'not a url' });
    expect(error.problems).toEqual([expect.stringMatching(/^MYSQL_URL: /)]);
  });

  it('reports a malformed AUTH_JWKS_URI together with other problems', () => {
    const error = configError({ ...good, AUTH_JWKS_URI: 'not a url', AUTH_AUDIENCE: '' });
    expect(error.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'AUTH_AUDIENCE',
      'AUTH_JWKS_URI',
    ]);
  });
});
