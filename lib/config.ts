/**
 * Every setting the app reads, read once and validated with zod. In Azure these are app
 * settings; locally the dev host loads them from `local.settings.json` (or the example
 * file). A bad or missing setting fails fast with a message naming each one.
 */
import { z } from 'zod';

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

const settingsSchema = z.object({
  /** mysql://user:password@host:port/database */
  MYSQL_URL: urlSetting(['mysql:']),
  MYSQL_POOL_SIZE: integerSetting(10, 1, 200),
  /** Require TLS to MySQL, verified against the system's CAs (Azure Database for MySQL). */
  MYSQL_TLS: booleanSetting(false),
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

/** Validates settings from an environment-like object. Empty strings count as missing. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const input: Record<string, string> = {};
  for (const name of settingNames) {
    const value = env[name]?.trim();
    if (value) input[name] = value;
  }
  const result = settingsSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = issue.path.join('.');
    const message =
      issue.code === 'invalid_type' && input[name] === undefined ? 'required' : issue.message;
    return `${name}: ${message}`;
  });
  throw new ConfigError(problems);
}

let cached: Config | undefined;

/** The process's settings, read and validated on first use. */
export function getConfig(): Config {
  cached ??= loadConfig(process.env);
  return cached;
}
