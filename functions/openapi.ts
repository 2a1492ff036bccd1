/** /api/openapi.json: the API description, anonymous so tools can fetch it. */
import { buildOpenApiDocument } from '../lib/api/openapi.js';
import { httpFunction } from '../lib/host/declarations.js';
import { problemHandler } from '../lib/http/handler.js';

let document: string | undefined;

export const openApiFunction = httpFunction({
  name: 'openapi',
  route: 'openapi.json',
  methods: ['GET'],
  handler: problemHandler(() => {
    // Built once per process: it depends only on code.
    document ??= JSON.stringify(buildOpenApiDocument());
    return Promise.resolve({
      status: 200,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'public, max-age=300',
      },
      body: document,
    });
  }),
});
