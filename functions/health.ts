/** /api/health: anonymous; 200 when every dependency answers, 503 otherwise. */
import { checkHealth } from '../lib/health.js';
import { httpFunction } from '../lib/host/declarations.js';
import { problemHandler } from '../lib/http/handler.js';
import { jsonResponse } from '../lib/http/response.js';

export const healthFunction = httpFunction({
  name: 'health',
  route: 'health',
  methods: ['GET'],
  handler: problemHandler(async () => {
    const { healthy, checks } = await checkHealth();
    return jsonResponse(
      { status: healthy ? 'healthy' : 'unhealthy', checks },
      { status: healthy ? 200 : 503 },
    );
  }),
});
