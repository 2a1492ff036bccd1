/**
 * Dependency checks for `/api/health`. Each check answers up or down within a deadline and
 * never reports configuration values or driver messages (which can carry host names or
 * credentials): only a short fixed reason. Later dependencies add their own checks here.
 */
import { getSection } from './config.js';
import { checkCosmos, getCosmosClient } from './cosmos/client.js';
import { getPool } from './mysql/pool.js';
import { cosmosSettingsFrom } from './cosmos/settings.js';

export interface CheckResult {
  status: 'up' | 'down';
  latencyMs: number;
  reason?: string;
}

export type HealthCheck = () => Promise<void>;

export const healthChecks: Readonly<Record<string, HealthCheck>> = {
  mysql: async () => {
    await getPool().query('SELECT 1');
  },
  cosmos: async () => {
    const cosmos = getSection('cosmos');
    await checkCosmos(getCosmosClient(cosmosSettingsFrom(cosmos)), cosmos.COSMOS_DATABASE);
  },
};

function withDeadline(check: HealthCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error('timeout'));
    }, ms);
  });
  return Promise.race([check(), deadline]).finally(() => {
    clearTimeout(timer);
  });
}

/** Runs every check concurrently; `healthy` only when all are up. */
export async function checkHealth(
  checks: Readonly<Record<string, HealthCheck>> = healthChecks,
  deadlineMs = 3000,
): Promise<{ healthy: boolean; checks: Record<string, CheckResult> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      try {
        await withDeadline(check, deadlineMs);
        return [name, { status: 'up', latencyMs: Math.round(performance.now() - started) }];
      } catch (error) {
        const reason =
          error instanceof Error && error.message === 'timeout'
            ? 'timed out'
            : error instanceof Error && error.name === 'ConfigError'
              ? 'not configured'
              : 'unreachable';
        return [
          name,
          { status: 'down', latencyMs: Math.round(performance.now() - started), reason },
        ];
      }
    }),
  );
  const results = Object.fromEntries(entries);
  return { healthy: entries.every(([, result]) => result.status === 'up'), checks: results };
}
