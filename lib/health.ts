/**
 * Dependency checks for `/api/health`. Each check answers up or down within a deadline and
 * never reports configuration values or driver messages (which can carry host names or
 * credentials): only a short fixed reason. The checks themselves are services
 * (`healthChecks` in lib/services.ts); later dependencies add theirs there.
 *
 * Not every dependency is needed to serve: Redis is a cache and a coordinator (rate limits
 * fail open, caches fall through to MySQL), so its failure makes the app `degraded`, still
 * answering 200, while a required one (MySQL, Cosmos DB) down makes it `unhealthy` (503).
 */
import { cosmosFailure } from './cosmos/client.js';
import { DependencyUnavailableError } from './errors.js';

export interface CheckResult {
  status: 'up' | 'down';
  latencyMs: number;
  reason?: string;
}

export type HealthCheck = () => Promise<void>;

/** The checks of dependencies the API serves without (see above): their failure degrades. */
export const optionalChecks: ReadonlySet<string> = new Set(['redis']);

/** A check that outlived the deadline of `/api/health`. */
class DeadlineExceeded extends Error {}

function withDeadline(check: HealthCheck, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new DeadlineExceeded());
    }, ms);
  });
  return Promise.race([check(), deadline]).finally(() => {
    clearTimeout(timer);
  });
}

/** The fixed reason a check failed: never the driver's message. */
function reasonFor(error: unknown): string {
  if (error instanceof DeadlineExceeded) return 'timed out';
  if (error instanceof Error && error.name === 'ConfigError') return 'not configured';
  const unavailable = error instanceof DependencyUnavailableError ? error : cosmosFailure(error);
  return unavailable?.reason ?? 'unreachable';
}

/**
 * `healthy`: every check up; `degraded`: only optional ones down (the API keeps serving);
 * `unhealthy`: a required one down.
 */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

/** Runs every check concurrently; `optional` names the checks the app can serve without. */
export async function checkHealth(
  checks: Readonly<Record<string, HealthCheck>>,
  optional: ReadonlySet<string> = optionalChecks,
  deadlineMs = 3000,
): Promise<{ status: HealthStatus; checks: Record<string, CheckResult> }> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const started = performance.now();
      try {
        await withDeadline(check, deadlineMs);
        return [name, { status: 'up', latencyMs: Math.round(performance.now() - started) }];
      } catch (error) {
        return [
          name,
          {
            status: 'down',
            latencyMs: Math.round(performance.now() - started),
            reason: reasonFor(error),
          },
        ];
      }
    }),
  );
  const down = entries.filter(([, result]) => result.status === 'down').map(([name]) => name);
  const status: HealthStatus = down.some((name) => !optional.has(name))
    ? 'unhealthy'
    : down.length
      ? 'degraded'
      : 'healthy';
  return { status, checks: Object.fromEntries(entries) };
}
