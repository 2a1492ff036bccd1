/**
 * Every setting the app reads, validated with zod. In Azure these are app settings, read
 * from the process environment here and nowhere else (`processConfig`); the local stack
 * builds them from `local.settings.json` (or the example file) and what it starts, and
 * passes them in. A bad or missing setting fails fast with a message naming each one.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  defaultEscalationPolicy,
  escalationPolicySchema,
  type EscalationPolicy,
} from './telemetry/escalation.js';
import { offlineTimeoutSettingSchema } from './telemetry/offline.js';
import { severities, type Severity } from './telemetry/severity.js';

const booleanSetting = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], {
      error: 'expected true or false',
    })
    .optional()
    .transform((value) => (value === undefined ? fallback : ['true', '1', 'yes'].includes(value)));

const urlSetting = (protocols: readonly string[]) =>
  z
    .string({ error: 'required' })
    .refine((value) => URL.canParse(value) && protocols.includes(new URL(value).protocol), {
      error: `expected a URL with protocol ${protocols.join(' or ')}`,
    });

const integerSetting = (fallback: number, min: number, max: number) =>
  z.coerce
    .number({ error: 'expected a whole number' })
    .int({ error: 'expected a whole number' })
    .min(min, { error: `expected a whole number from ${min} to ${max}` })
    .max(max, { error: `expected a whole number from ${min} to ${max}` })
    .default(fallback);

const optionalText = z.string().min(1).optional();

/** A comma-separated list of severities, each once (`medium,high,critical`). */
const severityListSetting = (fallback: Severity[]) =>
  z
    .string()
    .optional()
    .transform((text, context): Severity[] => {
      if (text === undefined) return fallback;
      const names = text.split(',').map((name) => name.trim());
      const unknown = names.filter((name) => !(severities as readonly string[]).includes(name));
      if (unknown.length || new Set(names).size !== names.length) {
        context.addIssue({
          code: 'custom',
          message: `expected distinct severities from ${severities.join(', ')}, comma-separated`,
        });
        return z.NEVER;
      }
      return severities.filter((severity) => names.includes(severity));
    });

/**
 * A JSON setting checked against `schema`: empty means `fallback`; bad JSON or a bad value
 * fails with the JSON path of each problem (`/critical/steps/1/afterMinutes: …`).
 */
const jsonSetting = <T>(schema: z.ZodType<T>, fallback: T) =>
  z
    .string()
    .optional()
    .transform((text, context): T => {
      if (text === undefined) return fallback;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        context.addIssue({ code: 'custom', message: `not valid JSON: ${String(error)}` });
        return z.NEVER;
      }
      const result = schema.safeParse(value);
      if (result.success) return result.data;
      for (const issue of result.error.issues) {
        const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
        for (const key of keys) {
          const path = [...issue.path, ...(key === undefined ? [] : [key])];
          const where = path.map((token) => `/${String(token)}`).join('');
          const message = key === undefined ? issue.message : 'unknown key';
          context.addIssue({ code: 'custom', message: `${where || '/'}: ${message}` });
        }
      }
      return z.NEVER;
    });

/**
 * The folder holding the app's package.json above this module: the project root from
 * source, from `dist/` and from the deployed bundle alike (the file system root if none).
 */
function appRoot(): string {
  let dir = fileURLToPath(new URL('.', import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = resolve(dir, '..');
    if (parent === dir) break;
    dir = parent;
  }
  return dir;
}

/**
 * Defaults of the MySQL timeouts (milliseconds). A hung or unreachable server costs a request
 * at most the acquire wait plus one statement's timeout before it answers 503; scripts that
 * build a pool without these settings get the same values.
 */
export const mysqlTimeoutDefaults = {
  MYSQL_CONNECT_TIMEOUT_MS: 3000,
  MYSQL_ACQUIRE_TIMEOUT_MS: 3000,
  MYSQL_QUERY_TIMEOUT_MS: 5000,
} as const;

/** Default of COSMOS_REQUEST_TIMEOUT_MS (the SDK's own is 60 s). */
export const DEFAULT_COSMOS_REQUEST_TIMEOUT_MS = 5000;

const mysqlHostForm = ['MYSQL_HOST', 'MYSQL_USER', 'MYSQL_DATABASE'] as const;
const mysqlIdentity = ['MYSQL__credential', 'MYSQL__clientId'] as const;
type Presence = Partial<Record<string, unknown>>;

/**
 * Exactly one way to MySQL: MYSQL_URL, or MYSQL_HOST with MYSQL_USER and MYSQL_DATABASE.
 * The rules run even when other settings are invalid, so one error names every problem.
 */
function withMysqlTarget<S extends z.ZodObject>(schema: S): S {
  const always = { when: () => true };
  let result = schema.refine(
    (v: Presence) => v['MYSQL_URL'] !== undefined || v['MYSQL_HOST'] !== undefined,
    {
      ...always,
      path: ['MYSQL_URL'],
      message: 'required',
    },
  );
  for (const name of [...mysqlHostForm, ...mysqlIdentity]) {
    result = result.refine((v: Presence) => v['MYSQL_URL'] === undefined || v[name] === undefined, {
      ...always,
      path: [name],
      message: 'set either MYSQL_URL or MYSQL_HOST with MYSQL_USER and MYSQL_DATABASE',
    });
  }
  for (const name of mysqlHostForm.slice(1)) {
    result = result.refine(
      (v: Presence) =>
        v['MYSQL_URL'] !== undefined || v['MYSQL_HOST'] === undefined || v[name] !== undefined,
      { ...always, path: [name], message: 'required with MYSQL_HOST' },
    );
  }
  // The replica is reached the way the primary is: a URL beside a URL, a host beside a host.
  result = result.refine(
    (v: Presence) => v['MYSQL_READ_URL'] === undefined || v['MYSQL_HOST'] === undefined,
    { ...always, path: ['MYSQL_READ_URL'], message: 'with MYSQL_HOST, set MYSQL_READ_HOST' },
  );
  result = result.refine(
    (v: Presence) => v['MYSQL_READ_HOST'] === undefined || v['MYSQL_URL'] === undefined,
    { ...always, path: ['MYSQL_READ_HOST'], message: 'with MYSQL_URL, set MYSQL_READ_URL' },
  );
  return result;
}

/**
 * Exactly one way to Redis: REDIS_URL, or REDIS__hostName (Azure, Entra sign-in). Runs even
 * when other settings are invalid, as the MySQL rules do.
 */
function withRedisTarget<S extends z.ZodObject>(schema: S): S {
  const always = { when: () => true };
  return schema
    .refine(
      (v: Presence) => (v['REDIS_URL'] === undefined) !== (v['REDIS__hostName'] === undefined),
      {
        ...always,
        path: ['REDIS_URL'],
        message: 'set exactly one of REDIS_URL and REDIS__hostName',
      },
    )
    .refine(
      (v: Presence) =>
        v['REDIS_URL'] === undefined ||
        (v['REDIS__credential'] === undefined && v['REDIS__clientId'] === undefined),
      { ...always, path: ['REDIS__credential'], message: 'only with REDIS__hostName' },
    );
}

/**
 * At most one key keeper for webhook secrets, and loopback deliveries never beside a Key
 * Vault key (Azure). Runs even when other settings are invalid, as the MySQL rules do.
 */
function withWebhookRules<S extends z.ZodObject>(schema: S): S {
  const always = { when: () => true };
  return schema
    .refine(
      (v: Presence) =>
        v['WEBHOOK_SECRET_KEY_ID'] === undefined || v['WEBHOOK_SECRET_KEY_FILE'] === undefined,
      {
        ...always,
        path: ['WEBHOOK_SECRET_KEY_FILE'],
        message: 'set either this or WEBHOOK_SECRET_KEY_ID',
      },
    )
    .refine(
      (v: Presence) =>
        v['WEBHOOK_SECRET_KEY_ID'] === undefined || v['WEBHOOK_ALLOW_LOOPBACK_HTTP'] !== true,
      {
        ...always,
        path: ['WEBHOOK_ALLOW_LOOPBACK_HTTP'],
        message: 'only for the local stack, never with WEBHOOK_SECRET_KEY_ID',
      },
    );
}

/** The settings that let the Web PubSub service's managed identity call the event handler. */
export const webPubSubEventTokenSettings = [
  'WEBPUBSUB_EVENTS_AUDIENCE',
  'WEBPUBSUB_EVENTS_ISSUER',
  'WEBPUBSUB_EVENTS_JWKS_URI',
  'WEBPUBSUB_EVENTS_PRINCIPAL_ID',
] as const;

/**
 * The event handler's token settings all or none: one missing would leave a check undone.
 * Runs even when other settings are invalid, as the MySQL rules do.
 */
function withWebPubSubEventRules<S extends z.ZodObject>(schema: S): S {
  const always = { when: () => true };
  let result = schema;
  for (const name of webPubSubEventTokenSettings) {
    result = result.refine(
      (v: Presence) =>
        v[name] !== undefined ||
        webPubSubEventTokenSettings.every((other) => v[other] === undefined),
      { ...always, path: [name], message: `required with the other WEBPUBSUB_EVENTS_* settings` },
    );
  }
  return result;
}

/**
 * Settings by section. A function validates only the sections it uses (the HTTP API does not
 * need Cosmos settings to start; see `configSections`), while `loadConfig` validates all of
 * them, which the local host does at start-up to fail fast.
 */
export const settingSections = {
  mysql: withMysqlTarget(
    z.object({
      /** mysql://user:password@host:port/database (local, or any server with a password). */
      MYSQL_URL: urlSetting(['mysql:']).optional(),
      /**
       * Azure Database for MySQL: the server's host name. The app signs in as MYSQL_USER with
       * a Microsoft Entra access token (no password) over TLS. Exactly one of MYSQL_URL and
       * MYSQL_HOST.
       */
      MYSQL_HOST: z
        .string()
        .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a host name' })
        .optional(),
      MYSQL_PORT: z.coerce
        .number({ error: 'expected a port' })
        .int({ error: 'expected a port' })
        .min(1, { error: 'expected a port' })
        .max(65_535, { error: 'expected a port' })
        .optional(),
      /** The Entra database user (created once by bicep/scripts/create-mysql-user.sh). */
      MYSQL_USER: optionalText,
      MYSQL_DATABASE: optionalText,
      /** `managedidentity` in Azure; absent: DefaultAzureCredential (a developer's sign-in). */
      MYSQL__credential: z
        .enum(['managedidentity'], { error: 'expected managedidentity' })
        .optional(),
      /** Client id of a user-assigned managed identity. */
      MYSQL__clientId: optionalText,
      /**
       * A read replica for the API's GET requests (lib/services.ts `readPool`): with
       * MYSQL_URL, a URL of the same form; with MYSQL_HOST, the replica's host name (same
       * port, user, database and Entra sign-in). Absent: reads use the primary.
       */
      MYSQL_READ_URL: urlSetting(['mysql:']).optional(),
      MYSQL_READ_HOST: z
        .string()
        .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a host name' })
        .optional(),
      MYSQL_POOL_SIZE: integerSetting(10, 1, 200),
      /** Require TLS to MySQL, verified against the system's CAs (always on with MYSQL_HOST). */
      MYSQL_TLS: booleanSetting(false),
      /** Longest wait for a new connection: TCP connect, handshake and sign-in. */
      MYSQL_CONNECT_TIMEOUT_MS: integerSetting(
        mysqlTimeoutDefaults.MYSQL_CONNECT_TIMEOUT_MS,
        100,
        60_000,
      ),
      /** Longest wait for a pooled connection (queueing behind busy ones, or connecting). */
      MYSQL_ACQUIRE_TIMEOUT_MS: integerSetting(
        mysqlTimeoutDefaults.MYSQL_ACQUIRE_TIMEOUT_MS,
        100,
        60_000,
      ),
      /** Longest wait for the answer to one statement; the connection is then dropped. */
      MYSQL_QUERY_TIMEOUT_MS: integerSetting(
        mysqlTimeoutDefaults.MYSQL_QUERY_TIMEOUT_MS,
        100,
        300_000,
      ),
    }),
  ),
  auth: z.object({
    /** Expected `iss` of bearer tokens. */
    AUTH_ISSUER: z.string({ error: 'required' }).min(1, { error: 'required' }),
    /** Expected `aud` of bearer tokens. */
    AUTH_AUDIENCE: z.string({ error: 'required' }).min(1, { error: 'required' }),
    /** Where the issuer publishes its signing keys. */
    AUTH_JWKS_URI: urlSetting(['https:', 'http:']),
    /**
     * Trust App Service authentication's `x-ms-client-principal` header instead of verifying
     * tokens. Only safe when the platform strips and sets that header (Easy Auth enabled with
     * "require authentication"), never when the app is reachable any other way.
     */
    AUTH_TRUST_PLATFORM_PRINCIPAL: booleanSetting(false),
  }),
  cosmos: z.object({
    /** https://<account>.documents.azure.com:443/ (identity-based connection). */
    COSMOS__accountEndpoint: urlSetting(['https:']),
    /** `managedidentity` in Azure; absent locally, where COSMOS_KEY is used. */
    COSMOS__credential: z
      .enum(['managedidentity'], { error: 'expected managedidentity' })
      .optional(),
    /** Client id of a user-assigned managed identity. */
    COSMOS__clientId: optionalText,
    /** Account key: local stand-in only (Azure uses the managed identity). */
    COSMOS_KEY: optionalText,
    COSMOS_DATABASE: z.string().min(1).max(255).default('sis'),
    /** PEM file of the local stand-in's certificate, trusted for Cosmos only. */
    COSMOS_CA_CERT_FILE: optionalText,
    /** Longest wait for the answer to one request to Cosmos DB (the SDK's default is 60 s). */
    COSMOS_REQUEST_TIMEOUT_MS: integerSetting(DEFAULT_COSMOS_REQUEST_TIMEOUT_MS, 100, 60_000),
    /**
     * Let the SDK redirect to other regions of a geo-replicated account. Off by default: with
     * it on, the SDK retries a timed-out read up to 120 times, far past any HTTP deadline.
     */
    COSMOS_ENDPOINT_DISCOVERY: booleanSetting(false),
  }),
  eventHubs: z.object({
    /** Connection string (local stand-in); in Azure the identity-based form below. */
    EventHubConnection: optionalText,
    /** `<namespace>.servicebus.windows.net`: the identity-based connection (Azure). */
    EventHubConnection__fullyQualifiedNamespace: optionalText,
    /** `managedidentity` in Azure; absent: DefaultAzureCredential. */
    EventHubConnection__credential: z
      .enum(['managedidentity'], { error: 'expected managedidentity' })
      .optional(),
    /** Client id of a user-assigned managed identity. */
    EventHubConnection__clientId: optionalText,
    EVENTHUB_NAME: z.string().min(1).default('telemetry'),
    EVENTHUB_CONSUMER_GROUP: z.string().min(1).default('$Default'),
  }),
  webPubSub: withWebPubSubEventRules(
    z.object({
      /** https://<name>.webpubsub.azure.com (identity-based); locally the stand-in's http URL. */
      WEBPUBSUB__endpoint: urlSetting(['https:', 'http:']),
      /** `managedidentity` in Azure; absent locally, where WEBPUBSUB_KEY is used. */
      WEBPUBSUB__credential: z
        .enum(['managedidentity'], { error: 'expected managedidentity' })
        .optional(),
      /** Client id of a user-assigned managed identity. */
      WEBPUBSUB__clientId: optionalText,
      /** Access key: local stand-in only (Azure uses the managed identity). */
      WEBPUBSUB_KEY: optionalText,
      WEBPUBSUB_HUB: z
        .string()
        .regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, { error: 'expected a hub name' })
        .default('sis'),
      /** Lifetime of the client URLs `/api/negotiate` hands out. */
      WEBPUBSUB_TOKEN_MINUTES: integerSetting(10, 1, 60),
      /** Least time between two equipment status messages for one equipment (0: every batch). */
      EQUIPMENT_STATUS_INTERVAL_SECONDS: integerSetting(5, 0, 3600),
      /**
       * The event handler (/api/webpubsub/events) in Azure, where the service has no access
       * key: it calls with an Entra token of its managed identity, issued for this audience
       * (the hub's `eventHandlers[].auth.managedIdentity.resource`)...
       */
      WEBPUBSUB_EVENTS_AUDIENCE: optionalText,
      /** ...by this issuer (`iss`)... */
      WEBPUBSUB_EVENTS_ISSUER: optionalText,
      /** ...signed with a key published here... */
      WEBPUBSUB_EVENTS_JWKS_URI: urlSetting(['https:', 'http:']).optional(),
      /** ...to this principal (`oid`: the object id of the Web PubSub resource's identity). */
      WEBPUBSUB_EVENTS_PRINCIPAL_ID: optionalText,
    }),
  ),
  push: z.object({
    /**
     * Notification Hubs connection string of a Send-only policy (a Key Vault reference in
     * Azure). Absent: push is off and the app says so once at start-up.
     */
    NOTIFICATION_HUBS_CONNECTION: optionalText,
    NOTIFICATION_HUB_NAME: optionalText,
    /** PEM file of a local Notification Hubs stand-in's certificate, trusted for push only. */
    NOTIFICATION_HUBS_CA_CERT_FILE: optionalText,
  }),
  communication: z.object({
    /**
     * `endpoint=http://127.0.0.1:PORT/;accesskey=...`: the local stand-in only (dev/communication).
     * In Azure the identity-based form below; never an access key in settings.
     */
    COMMUNICATION_CONNECTION: optionalText,
    /** https://<name>.<geo>.communication.azure.com: signed in with the app's managed identity. */
    COMMUNICATION__endpoint: urlSetting(['https:']).optional(),
    /** `managedidentity` in Azure; absent: DefaultAzureCredential. */
    COMMUNICATION__credential: z
      .enum(['managedidentity'], { error: 'expected managedidentity' })
      .optional(),
    /** Client id of a user-assigned managed identity. */
    COMMUNICATION__clientId: optionalText,
    /**
     * The sender of alert emails: an address of a domain linked to the resource (the
     * Azure-managed domain's `DoNotReply@<guid>.azurecomm.net`). Required for email.
     */
    EMAIL_SENDER_ADDRESS: z.email({ error: 'expected an email address' }).max(254).optional(),
    /** The E.164 number SMS are sent from (bought by hand). Absent: SMS is off. */
    SMS_FROM_NUMBER: z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, { error: 'expected an E.164 phone number, e.g. +14255550123' })
      .optional(),
    /**
     * Comma-separated severities that go by SMS to technicians who chose nothing else
     * (their preferences override). Default `critical`.
     */
    SMS_SEVERITIES: severityListSetting(['critical']),
    /** The app's public origin, for links to the dashboard in emails (absent: no link). */
    APP_PUBLIC_URL: urlSetting(['https:', 'http:']).optional(),
  }),
  telemetry: z.object({
    /** How far behind the newest reading of a partition a reading may arrive and still count. */
    TELEMETRY_ALLOWED_LATENESS_SECONDS: integerSetting(60, 0, 3600),
    /** Extra wall-clock wait before the timer closes the windows of a quiet partition. */
    TELEMETRY_IDLE_GRACE_SECONDS: integerSetting(120, 0, 86_400),
    AGGREGATE_TTL_DAYS: integerSetting(90, 1, 3650),
    DEAD_LETTER_TTL_DAYS: integerSetting(14, 1, 365),
    /** JSON severity rules; empty means the documented defaults. */
    SEVERITY_RULES: optionalText,
    /**
     * JSON offline timeouts in minutes, `{"default": 15, "types": {"Compressor": 30}}`
     * (each 1 to 10080); a machine's own timeout (the API) comes first.
     */
    OFFLINE_TIMEOUT_MINUTES: jsonSetting(
      offlineTimeoutSettingSchema,
      offlineTimeoutSettingSchema.parse({}),
    ),
    /** Consecutive windows inside the clear threshold that clear an alert (hysteresis). */
    ALERT_CLEAR_WINDOWS: integerSetting(2, 1, 100),
    /** A breach this long after an alert cleared reopens it (a flap) instead of a new alert. */
    ALERT_FLAP_MINUTES: integerSetting(30, 0, 1440),
  }),
  escalation: z.object({
    /**
     * JSON escalation and reminder policy per severity (lib/telemetry/escalation.ts); the
     * severities it names replace the defaults'. Read by the delivery sweep.
     */
    ALERT_ESCALATION_POLICY: jsonSetting<EscalationPolicy>(
      escalationPolicySchema,
      defaultEscalationPolicy,
    ),
  }),
  redis: withRedisTarget(
    z.object({
      /**
       * redis://[user:password@]host:port (local, or any server with a password);
       * rediss:// for TLS. Exactly one of REDIS_URL and REDIS__hostName.
       */
      REDIS_URL: urlSetting(['redis:', 'rediss:']).optional(),
      /**
       * Azure Managed Redis: the cache's host name. The app signs in with a Microsoft Entra
       * token of its identity (no access keys) over TLS.
       */
      REDIS__hostName: z
        .string()
        .regex(/^[A-Za-z0-9.-]{1,253}$/, { error: 'expected a host name' })
        .optional(),
      /** Port of REDIS__hostName (Azure Managed Redis listens on 10000). */
      REDIS_PORT: integerSetting(10_000, 1, 65_535),
      /** `managedidentity` in Azure; absent: DefaultAzureCredential (a developer's sign-in). */
      REDIS__credential: z
        .enum(['managedidentity'], { error: 'expected managedidentity' })
        .optional(),
      /** Client id of a user-assigned managed identity. */
      REDIS__clientId: optionalText,
      /** Put before every key the app writes, so several apps (or test files) share a server. */
      REDIS_KEY_PREFIX: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,64}$/, { error: 'expected 1-64 letters, digits or _.:-' })
        .default('sis:'),
      /**
       * Longest wait for a connection to Redis or for one command's answer; past it, rate
       * limits fail open and caches fall through.
       */
      REDIS_TIMEOUT_MS: integerSetting(1000, 50, 30_000),
    }),
  ),
  rateLimits: z.object({
    /**
     * JSON: limits per route class, each `{ "limit", "adminLimit", "windowSeconds" }`, any
     * part left out keeping its default (lib/http/rateLimits.ts `defaultRateLimits`).
     */
    RATE_LIMITS: optionalText,
  }),
  webhooks: withWebhookRules(
    z.object({
      /**
       * Azure: the Key Vault key that wraps each webhook secret's data key (its versionless
       * identifier, https://<vault>.vault.azure.net/keys/<name>), reached with the app's
       * identity. Exactly one of this and WEBHOOK_SECRET_KEY_FILE; neither: webhooks are off.
       */
      WEBHOOK_SECRET_KEY_ID: urlSetting(['https:']).optional(),
      /** Client id of a user-assigned managed identity for Key Vault. */
      WEBHOOK_SECRET_KEY__clientId: optionalText,
      /** Local stack and tests: the key file that wraps the data keys (owner-only, 0600). */
      WEBHOOK_SECRET_KEY_FILE: optionalText,
      /**
       * Local stack and tests only: deliveries and registrations may use plain http to
       * loopback addresses, so a receiver on this machine can get them. Never with
       * WEBHOOK_SECRET_KEY_ID (Azure).
       */
      WEBHOOK_ALLOW_LOOPBACK_HTTP: booleanSetting(false),
      /** Failed deliveries in a row that disable a webhook (a success resets the run). */
      WEBHOOK_DISABLE_AFTER_FAILURES: integerSetting(100, 1, 100_000),
      /** Longest wait for one delivery: connecting, sending and the answer's head. */
      WEBHOOK_TIMEOUT_MS: integerSetting(5000, 100, 30_000),
      /** Most bytes of a receiver's answer read; the connection is then dropped. */
      WEBHOOK_MAX_RESPONSE_BYTES: integerSetting(65_536, 0, 1_048_576),
    }),
  ),
  monitor: z.object({
    /** Application Insights: metrics and traces go there when set (lib/observability/azure.ts). */
    APPLICATIONINSIGHTS_CONNECTION_STRING: optionalText,
    /** `ClientId=<managed identity client id>;Authorization=AAD`: Entra sign-in to ingestion. */
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: optionalText,
    /** Share of traces kept, 0 to 1. */
    TRACES_SAMPLING_RATIO: z.coerce
      .number({ error: 'expected a number from 0 to 1' })
      .min(0, { error: 'expected a number from 0 to 1' })
      .max(1, { error: 'expected a number from 0 to 1' })
      .default(1),
  }),
  dashboard: z.object({
    /** Folder of the built dashboard (relative: to the working directory). */
    DASHBOARD_DIR: optionalText.transform((dir) =>
      dir === undefined ? join(appRoot(), 'dist', 'dashboard') : resolve(dir),
    ),
  }),
} as const;

export type Section = keyof typeof settingSections;
export type SectionConfig<S extends Section> = z.output<(typeof settingSections)[S]>;

const settingsSchema = z.object({
  ...settingSections.mysql.shape,
  ...settingSections.auth.shape,
  ...settingSections.cosmos.shape,
  ...settingSections.eventHubs.shape,
  ...settingSections.webPubSub.shape,
  ...settingSections.push.shape,
  ...settingSections.communication.shape,
  ...settingSections.telemetry.shape,
  ...settingSections.escalation.shape,
  ...settingSections.dashboard.shape,
  ...settingSections.monitor.shape,
  ...settingSections.redis.shape,
  ...settingSections.rateLimits.shape,
  ...settingSections.webhooks.shape,
});

/** The validated settings. */
export type Config = z.output<typeof settingsSchema>;

/** Names of every setting the app reads. */
export const settingNames = Object.keys(settingsSchema.shape) as (keyof Config)[];

/** Thrown when settings are missing or invalid; the message names each one. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid app settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function validate<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): z.output<S> {
  const input: Record<string, string> = {};
  for (const name of Object.keys(schema.shape)) {
    const value = env[name]?.trim();
    if (value) input[name] = value;
  }
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const message =
      issue.code === 'invalid_type' && input[name] === undefined ? 'required' : issue.message;
    return `${name}: ${message}`;
  });
  throw new ConfigError(problems);
}

/**
 * Settings as the app receives them: names to text values, like `process.env` (app settings
 * in Azure) or a record the local stack or a test builds.
 */
export type Settings = Readonly<Record<string, string | undefined>>;

/** Validates every setting from an environment-like object. Empty strings count as missing. */
export function loadConfig(env: Settings): Config {
  return validate(
    withWebPubSubEventRules(withWebhookRules(withRedisTarget(withMysqlTarget(settingsSchema)))),
    env,
  );
}

/** Validates one section's settings. */
export function loadSection<S extends Section>(section: S, env: Settings): SectionConfig<S> {
  return validate(settingSections[section], env);
}

/**
 * The app's settings one section at a time: what `createServices` (lib/services.ts) builds
 * from. A section is validated when something first needs it and then kept, so a function
 * validates only the sections it uses (the HTTP API answers without Cosmos settings).
 */
export interface ConfigSections {
  section<S extends Section>(name: S): SectionConfig<S>;
}

/** The sections of `settings`, copied now and each validated at its first use. */
export function configSections(settings: Settings): ConfigSections {
  const copy = { ...settings };
  const validated = new Map<Section, SectionConfig<Section>>();
  return {
    section<S extends Section>(name: S): SectionConfig<S> {
      let value = validated.get(name);
      if (!value) {
        value = loadSection(name, copy);
        validated.set(name, value);
      }
      // The map pairs each section with its own output; TypeScript cannot follow that.
      return value as SectionConfig<S>;
    },
  };
}

/** The sections of settings already validated as a whole (`loadConfig`). */
export function sectionsOf(config: Config): ConfigSections {
  return {
    section<S extends Section>(name: S): SectionConfig<S> {
      const names = Object.keys(settingSections[name].shape) as (keyof Config)[];
      // Each section's output is a subset of `Config`; picking its names rebuilds it.
      return Object.fromEntries(names.map((key) => [key, config[key]])) as SectionConfig<S>;
    },
  };
}

/**
 * The settings of this process (its environment: app settings in Azure). The one place
 * production code reads `process.env` (tests/lib/layers.test.ts checks); everything else is
 * handed its settings.
 */
export function processConfig(): ConfigSections {
  return configSections(process.env);
}
