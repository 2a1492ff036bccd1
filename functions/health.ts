/**
 * /api/health: anonymous; 200 when every dependency answers, 503 with `Retry-After`
 * otherwise, naming each dependency that is down and why (`timed out`, `unreachable`...).
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
    const { healthy, checks } = await checkHealth(services.healthChecks);
    return jsonResponse(
      { status: healthy ? 'healthy' : 'unhealthy', checks },
      healthy
        ? { status: 200 }
        : { status: 503, headers: { 'retry-after': String(RETRY_AFTER_SECONDS) } },
    );
  }),
});
