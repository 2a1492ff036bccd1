/**
 * The app's Web PubSub event handler (upstream webhook): technicians' apps send their position
 * as the client event `location`, and the service forwards it here as a CloudEvents HTTP
 * request in binary mode (headers `ce-type: azure.webpubsub.user.location`, `ce-userId`,
 * `ce-connectionId`, `ce-hub`, `ce-signature`; body the event's JSON data). Protocol:
 * MicrosoftDocs/azure-docs articles/azure-web-pubsub/reference-cloud-events.md.
 *
 * Trust: the route is anonymous, so the service proves itself in one of two ways, each
 * checked when it is configured; at least one must be, or the handler refuses everything (it
 * could not tell the service from a forger):
 * - with an access key (WEBPUBSUB_KEY, the local stand-in): `ce-signature`, which the service
 *   computes as `sha256=hex(HMAC-SHA256(accessKey, connectionId))` for each of its access
 *   keys (same document, "signature"; the Azure SignalR emulator's
 *   Utils.GetConnectionSignature in Azure/azure-signalr computes it from the keys' UTF-8
 *   bytes and prints upper-case hex). `@azure/web-pubsub-express` (Azure/azure-sdk-for-js
 *   sdk/web-pubsub/web-pubsub-express/src/cloudEventsDispatcher.ts) checks origin and
 *   `ce-type` but leaves the signature to the app, which is why it is checked here;
 * - with the WEBPUBSUB_EVENTS_* settings (Azure, where the service's access keys are off):
 *   `Authorization: Bearer <token>`, an Entra access token the service gets with its managed
 *   identity for the audience set in the hub's `eventHandlers[].auth` (MicrosoftDocs/azure-docs
 *   articles/azure-web-pubsub/howto-use-managed-identity.md, "Use a managed identity in
 *   client events scenarios" and "Validate access tokens"; Azure/azure-sdk-for-js pull
 *   request #39487 documents the same for the express package, which leaves that check to the
 *   app too). lib/auth.ts verifies it as it verifies users' tokens, plus the one principal.
 *
 * Answers: a non-2xx answer to a user event makes the service drop the client's connection
 * (reference-cloud-events.md, "Error response format"), so a position that is refused (bad
 * values, not a technician, too soon) is answered 200 with a JSON result, which the service
 * passes to the client as a server message; only forged or malformed CloudEvents get 4xx.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HttpRequest } from '@azure/functions';
import type { ServiceCallerVerifier } from '../auth.js';
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

/** How the handler recognises the service; see the module comment. */
export interface EventSenderChecks {
  hub: string;
  /** The access key `ce-signature` is checked with (local stand-in). */
  accessKey: string | undefined;
  /** The check of the service's managed-identity token (Azure). */
  verifyCaller: ServiceCallerVerifier | undefined;
}

/**
 * Checks the CloudEvent: from the service (every configured proof valid), of our hub, a user
 * event. Throws 401 for a sender that is not the service, 400 for anything else.
 */
export async function verifiedUserEvent(
  request: HttpRequest,
  checks: EventSenderChecks,
): Promise<{ eventName: string; userId: string | undefined }> {
  const header = (name: string) => request.headers.get(name);
  if (!checks.accessKey && !checks.verifyCaller) {
    throw new HttpError('unauthorized', 'This handler has no way to recognise the service.');
  }
  if (checks.accessKey) {
    const connectionId = header('ce-connectionid') ?? '';
    if (!connectionId || !signatureIsValid(connectionId, header('ce-signature'), checks.accessKey))
      throw new HttpError('unauthorized', 'Missing or invalid ce-signature.');
  }
  if (checks.verifyCaller) await checks.verifyCaller(request);
  const type = header('ce-type') ?? '';
  if (
    header('ce-hub')?.toLowerCase() !== checks.hub.toLowerCase() ||
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
