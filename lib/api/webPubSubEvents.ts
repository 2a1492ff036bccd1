/**
 * The app's Web PubSub event handler (upstream webhook): technicians' apps send their position
 * as the client event `location`, and the service forwards it here as a CloudEvents HTTP
 * request in binary mode (headers `ce-type: azure.webpubsub.user.location`, `ce-userId`,
 * `ce-connectionId`, `ce-hub`, `ce-signature`; body the event's JSON data). Protocol:
 * MicrosoftDocs/azure-docs articles/azure-web-pubsub/reference-cloud-events.md.
 *
 * Trust: the route is anonymous, so every request must carry `ce-signature`, which the
 * service computes as `sha256=hex(HMAC-SHA256(accessKey, connectionId))` for each of its
 * access keys (same document, "signature"; the Azure SignalR emulator's
 * Utils.GetConnectionSignature in Azure/azure-signalr computes it from the keys' UTF-8 bytes
 * and prints upper-case hex). `@azure/web-pubsub-express` (Azure/azure-sdk-for-js
 * sdk/web-pubsub/web-pubsub-express/src/cloudEventsDispatcher.ts) checks origin and `ce-type`
 * but leaves the signature to the app, which is why it is checked here. Without a key the
 * handler refuses everything: it cannot tell the service from a forger. (In Azure, where the
 * service's access keys are off, the way in is the event handler's managed-identity token
 * instead, as Azure/azure-sdk-for-js pull request #39487 documents for the express package;
 * not built yet, so bicep/ configures no event handler.)
 *
 * Answers: a non-2xx answer to a user event makes the service drop the client's connection
 * (reference-cloud-events.md, "Error response format"), so a position that is refused (bad
 * values, not a technician, too soon) is answered 200 with a JSON result, which the service
 * passes to the client as a server message; only forged or malformed CloudEvents get 4xx.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import { DependencyUnavailableError, HttpError } from '../errors.js';
import { parseOrThrow } from '../http/validation.js';
import type { Pool } from 'mysql2/promise';
import type { TechnicianLocations } from '../redis/locations.js';
import { positionInputSchema, reportMyLocation } from './locations.js';

/** The one client event the handler takes. */
export const locationEventName = 'location';

/** What the client gets back (as a server message) for each position it sends. */
export type LocationEventResult =
  | { type: 'location.result'; stored: true }
  | { type: 'location.result'; stored: false; status: number; detail: string };

/** The `sha256=...` values the service would send for `connectionId` under `accessKeys`. */
export function connectionSignatures(
  connectionId: string,
  accessKeys: readonly string[],
): string[] {
  return accessKeys.map(
    (key) => `sha256=${createHmac('sha256', key).update(connectionId).digest('hex')}`,
  );
}

/** True when one of the header's comma-separated values matches `accessKey`'s signature. */
export function signatureIsValid(
  connectionId: string,
  header: string | null,
  accessKey: string | undefined,
): boolean {
  if (!accessKey || !header) return false;
  const expected = Buffer.from(connectionSignatures(connectionId, [accessKey])[0] ?? '');
  return header.split(',').some((value) => {
    const given = Buffer.from(value.trim().toLowerCase());
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}

/**
 * The `WebHook-Allowed-Origin` answer to the abuse-protection OPTIONS request: the origin of
 * our own Web PubSub endpoint only, so no other service can be pointed at this handler.
 */
export function allowedOrigin(request: HttpRequest, webPubSubEndpoint: string): string {
  const origin = request.headers.get('webhook-request-origin');
  const ours = new URL(webPubSubEndpoint).host.toLowerCase();
  if (origin?.trim().toLowerCase() !== ours) {
    throw new HttpError('forbidden', 'Only this app’s Web PubSub service may call this handler.');
  }
  return ours;
}

/** Checks the CloudEvent's headers: our hub, a user event, a valid signature. */
export function verifiedUserEvent(
  request: HttpRequest,
  settings: { hub: string; accessKey: string | undefined },
): { eventName: string; userId: string | undefined } {
  const header = (name: string) => request.headers.get(name);
  const connectionId = header('ce-connectionid') ?? '';
  if (
    !connectionId ||
    !signatureIsValid(connectionId, header('ce-signature'), settings.accessKey)
  ) {
    throw new HttpError('unauthorized', 'Missing or invalid ce-signature.');
  }
  const type = header('ce-type') ?? '';
  if (
    header('ce-hub')?.toLowerCase() !== settings.hub.toLowerCase() ||
    !type.startsWith('azure.webpubsub.user.')
  ) {
    throw new HttpError('validation', 'Not a user event of this hub.');
  }
  const eventName = header('ce-eventname') ?? type.slice('azure.webpubsub.user.'.length);
  return { eventName, userId: header('ce-userid') ?? undefined };
}

/**
 * Stores the position of a `location` event for the technician whose subject is `userId`,
 * validated exactly as `PUT /api/me/location` validates it. Refusals become results for the
 * client; Redis or MySQL being down is thrown (the service then drops the connection and the
 * app reconnects, as it would after a 503).
 */
export async function handleLocationEvent(
  pool: Pool,
  locations: TechnicianLocations,
  userId: string | undefined,
  body: unknown,
  now: Date,
): Promise<LocationEventResult> {
  try {
    if (!userId) throw new HttpError('forbidden', 'Only signed-in technicians report a position.');
    const input = parseOrThrow(positionInputSchema, body, 'body');
    // No roles: an event never carries admin rights; the subject must be an active technician.
    await reportMyLocation(pool, locations, { subject: userId, roles: new Set() }, input, now);
    return { type: 'location.result', stored: true };
  } catch (error) {
    if (error instanceof DependencyUnavailableError || !(error instanceof HttpError)) throw error;
    const fields = error.errors?.map((e) => `${e.pointer}: ${e.detail}`).join('; ');
    return {
      type: 'location.result',
      stored: false,
      status: error.status,
      detail: fields ? `${error.message} (${fields})` : error.message,
    };
  }
}
