/**
 * Dependency checks for `/api/health`. Each check answers up or down within a deadline and
 * never reports configuration values or driver messages (which can carry host names or
 * credentials): only a short fixed reason. The checks themselves are services
 * (`healthChecks` in lib/services.ts); later dependencies add theirs there.
 */
import { cosmosFailure } from './cosmos/client.js';
import { DependencyUnavailableError } from './errors.js';

export interface CheckResult {
  status: 'up' | 'down';
  latencyMs: number;
  reason?: string;
}

export type HealthCheck = () => Promise<void>;

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

/** Runs every check concurrently; `healthy` only when all are up. */
export async function checkHealth(
  checks: Readonly<Record<string, HealthCheck>>,
  deadlineMs = 3000,
): Promise<{ healthy: boolean; checks: Record<string, CheckResult> }> {
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
  const results = Object.fromEntries(entries);
  return { healthy: entries.every(([, result]) => result.status === 'up'), checks: results };
}
