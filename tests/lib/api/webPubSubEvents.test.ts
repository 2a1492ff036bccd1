/**
 * How the event handler recognises the service (lib/api/webPubSubEvents.ts): with neither a
 * key nor a token check configured every event is refused, however it is signed. That each
 * configured proof must hold is shown end to end in tests/functions/webPubSubEvents*.test.ts.
 */
import { HttpRequest } from '@azure/functions';
import { describe, expect, it } from 'vitest';
import { connectionSignatures, verifiedUserEvent } from '../../../lib/api/webPubSubEvents.js';
import { HttpError } from '../../../lib/errors.js';

const accessKey = 'the-access-key';
const signedEvent = () =>
  new HttpRequest({
    method: 'POST',
    url: 'http://127.0.0.1/api/webpubsub/events',
    headers: {
      'ce-type': 'azure.webpubsub.user.location',
      'ce-hub': 'sis',
      'ce-connectionid': 'c1',
      'ce-userid': 'tech-1',
      'ce-signature': connectionSignatures('c1', [accessKey])[0] ?? '',
    },
  });

const statusOf = (promise: Promise<unknown>) =>
  promise.then(
    () => 200,
    (error: unknown) => (error instanceof HttpError ? error.status : 500),
  );

describe('verifiedUserEvent', () => {
  it('refuses every event when neither a key nor a token check is configured', async () => {
    expect(
      await statusOf(
        verifiedUserEvent(signedEvent(), {
          hub: 'sis',
          accessKey: undefined,
          verifyCaller: undefined,
        }),
      ),
    ).toBe(401);
  });
});
