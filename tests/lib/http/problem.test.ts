import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  HttpError,
  InvalidCursorError,
  NotFoundError,
  StaleVersionError,
  type ConflictReason,
} from '../../../lib/errors.js';
import { HttpResponse, InvocationContext } from '../../../lib/host/azureFunctions.js';
import { errorToResponse, problemContentType } from '../../../lib/http/problem.js';

function capture(invocationId = 'inv-1234') {
  const logs: { level: string; message: string }[] = [];
  const context = new InvocationContext({
    invocationId,
    functionName: 'equipment-item',
    logHandler: (level, ...args) => {
      logs.push({ level, message: args.map(String).join(' ') });
    },
  });
  return { context, logs };
}

async function read(init: ReturnType<typeof errorToResponse>) {
  const response = new HttpResponse(init);
  const text = await response.text();
  return { response, text, body: JSON.parse(text) as Record<string, unknown> };
}

describe('errorToResponse', () => {
  it('turns an HttpError into a problem document', async () => {
    const { context, logs } = capture();
    const error = new HttpError('precondition-failed', 'Stale', { headers: { etag: '"7"' } });
    const { response, body } = await read(errorToResponse(error, '/api/equipment/3', context));
    expect(response.status).toBe(412);
    expect(response.headers.get('content-type')).toBe(problemContentType);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(response.headers.get('etag')).toBe('"7"');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(body).toEqual({
      type: 'urn:sis:problem:precondition-failed',
      title: 'Precondition failed',
      status: 412,
      detail: 'Stale',
      instance: '/api/equipment/3',
    });
    expect(logs).toEqual([]);
  });

  it('lists field problems', async () => {
    const { context } = capture();
    const errors = [
      { pointer: '#/name', detail: 'Too long' },
      { parameter: 'limit', detail: 'Too big' },
    ];
    const { response, body } = await read(
      errorToResponse(new HttpError('validation', 'Bad', { errors }), '/api/x', context),
    );
    expect(response.status).toBe(400);
    expect(body['errors']).toEqual(errors);
    expect(body['invocationId']).toBeUndefined();
  });

  it('omits an empty error list', async () => {
    const { context } = capture();
    const { body } = await read(
      errorToResponse(new HttpError('validation', 'Bad', { errors: [] }), '/api/x', context),
    );
    expect(body).not.toHaveProperty('errors');
  });

  it('does not let an error header replace the problem content type', async () => {
    const { context } = capture();
    const error = new HttpError('unsupported-media-type', 'Send JSON', {
      headers: { 'content-type': 'text/html', 'accept-post': 'application/json' },
    });
    const { response } = await read(errorToResponse(error, '/api/x', context));
    expect(response.status).toBe(415);
    expect(response.headers.get('content-type')).toBe(problemContentType);
    expect(response.headers.get('accept-post')).toBe('application/json');
  });

  it('logs server-side HttpErrors as warnings', async () => {
    const { context, logs } = capture();
    const { response } = await read(
      errorToResponse(new HttpError('service-unavailable', 'Down'), '/api/health', context),
    );
    expect(response.status).toBe(503);
    expect(logs).toEqual([{ level: 'warning', message: 'service-unavailable: Down' }]);
  });

  it('hides an unexpected error behind a 500 and logs it with the invocation id', async () => {
    const { context, logs } = capture('inv-5678');
    const error = new Error('ER_ACCESS_DENIED for user admin@db.internal password=hunter2');
    const { response, text, body } = await read(errorToResponse(error, '/api/equipment', context));
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe(problemContentType);
    expect(body).toMatchObject({
      type: 'urn:sis:problem:internal',
      status: 500,
      instance: '/api/equipment',
      invocationId: 'inv-5678',
    });
    expect(body).not.toHaveProperty('errors');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('db.internal');
    expect(text).not.toContain('ER_ACCESS_DENIED');
    expect(text).not.toMatch(/\bat .+:\d+:\d+/);

    expect(logs).toHaveLength(1);
    expect(logs[0]?.level).toBe('error');
    expect(logs[0]?.message).toContain('inv-5678');
    expect(logs[0]?.message).toContain('equipment-item');
    expect(logs[0]?.message).toContain('ER_ACCESS_DENIED');
    expect(logs[0]?.message).toContain(error.stack?.split('\n')[1]?.trim() ?? 'missing stack');
  });

  it('handles thrown non-errors', async () => {
    const { context, logs } = capture();
    const { response, text } = await read(errorToResponse('secret-ish string', '/api/x', context));
    expect(response.status).toBe(500);
    expect(text).not.toContain('secret-ish');
    expect(logs[0]?.message).toContain('secret-ish string');
  });
});

describe('errorToResponse for domain errors', () => {
  const instance = '/api/equipment/3';
  const problem = (kind: string, title: string, status: number, detail: string) => ({
    type: `urn:sis:problem:${kind}`,
    title,
    status,
    detail,
    instance,
  });
  /** What is thrown, the problem document it becomes, and the ETag header sent with it. */
  type Case = [
    what: string,
    error: Error,
    expected: ReturnType<typeof problem> & { errors?: unknown[] },
    etag: string | null,
  ];
  const conflict = (reason: ConflictReason): Case => [
    `a ${reason} conflict`,
    new ConflictError(reason, 'Already there.'),
    problem('conflict', 'Conflict', 409, 'Already there.'),
    null,
  ];

  it.each<Case>([
    [
      'not found',
      new NotFoundError('Equipment 3 does not exist.'),
      problem('not-found', 'Not found', 404, 'Equipment 3 does not exist.'),
      null,
    ],
    conflict('duplicate'),
    conflict('still-referenced'),
    conflict('dangling-reference'),
    conflict('state'),
    [
      'a conflict in one field',
      new ConflictError('duplicate', 'The serial number is taken.', { pointer: '#/serialNumber' }),
      {
        ...problem('conflict', 'Conflict', 409, 'The serial number is taken.'),
        errors: [{ pointer: '#/serialNumber', detail: 'The serial number is taken.' }],
      },
      null,
    ],
    [
      'a stale row version, with its current ETag',
      new StaleVersionError('The resource has changed.', { currentVersion: 5 }),
      problem('precondition-failed', 'Precondition failed', 412, 'The resource has changed.'),
      '"5"',
    ],
    [
      'a stale opaque entity tag, passed through as the ETag',
      new StaleVersionError('The alert has changed.', { currentVersion: '"00a1-b2"' }),
      problem('precondition-failed', 'Precondition failed', 412, 'The alert has changed.'),
      '"00a1-b2"',
    ],
    [
      'a stale version not known, without an ETag',
      new StaleVersionError('The alert changed.'),
      problem('precondition-failed', 'Precondition failed', 412, 'The alert changed.'),
      null,
    ],
    [
      'an invalid cursor, naming the cursor parameter',
      new InvalidCursorError(),
      {
        ...problem(
          'validation',
          'Your request is not valid',
          400,
          'The cursor is not one this list returned.',
        ),
        errors: [
          { parameter: 'cursor', detail: 'Use nextCursor from the previous page unchanged' },
        ],
      },
      null,
    ],
  ])('answers %s', async (_what, error, expected, etag) => {
    const { context, logs } = capture();
    const { response, body } = await read(errorToResponse(error, instance, context));
    expect(response.status).toBe(expected.status);
    expect(body).toEqual(expected);
    expect(response.headers.get('etag')).toBe(etag);
    expect(response.headers.get('content-type')).toBe(problemContentType);
    expect(response.headers.get('cache-control')).toBe('no-store');
    // The client's doing, not the service's: nothing to log.
    expect(logs).toEqual([]);
  });
});
