/**
 * /api/health: anonymous; 200 `healthy` when every dependency answers, 200 `degraded` when
 * only Redis does not (the API keeps serving without it), 503 `unhealthy` with `Retry-After`
 * when MySQL or Cosmos DB does not; each check names its status and why (`timed out`,
 * `unreachable`...).
 *
 * Why Redis down is not a 503: a platform probe on this path (App Service Health check)
 * takes an instance out of the load balancer, and after an hour replaces it, when it does not
 * answer 200–299 (https://learn.microsoft.com/azure/app-service/monitor-instances-health-check);
 * taking every instance out over an outage of a cache they serve without would stop the API.
 */
import { checkHealth } from '../lib/health.js';
import { httpFunction } from '../lib/host/declarations.js';
import { problemHandler } from '../lib/http/handler.js';
import { RETRY_AFTER_SECONDS } from '../lib/http/problem.js';
import { jsonResponse } from '../lib/http/response.js';

export const healthFunction = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  handler: problemHandler(async (_request, _context, services) => {
    const { status, checks } = await checkHealth(services.healthChecks);
    return jsonResponse(
      { status, checks },
      status === 'unhealthy'
        ? { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } }
        : { status: 200 },
    );
  }),
});
