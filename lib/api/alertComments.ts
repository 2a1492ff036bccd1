/**
 * Comments on an alert: stored in the alert document itself (same partition, same ETag), so a
 * comment is written under the alert's ETag and retried on a lost race like a status change
 * (see `replaceAlert`). Posting notifies nobody and leaves the alert's `version` (its delivery
 * version) alone: a comment is a conversation among people already looking at the alert, not
 * news to push to phones and dashboards.
 */
import type { Principal } from '../auth.js';
import { ConflictError } from '../errors.js';
import type { VersionCondition } from '../preconditions.js';
import type { AlertComment } from '../telemetry/alerts.js';
import { httpEtag } from '../telemetry/queries.js';
import {
  readAlert,
  replaceAlert,
  requireVisibleAlertId,
  type AlertReadServices,
} from './alerts.js';

/** The most comments one alert keeps: the document stays far below Cosmos's 2 MB item limit. */
export const maxCommentsPerAlert = 200;

/** The comments of an alert the caller may see, oldest first, with the alert's ETag. */
export async function listAlertComments(
  services: AlertReadServices,
  principal: Principal,
  rawId: string | undefined,
): Promise<{ items: AlertComment[]; etag: string }> {
  const id = await requireVisibleAlertId(services, principal, rawId);
  const { alert, cosmosEtag } = await readAlert(services.telemetryDatabase, id);
  return { items: alert.comments ?? [], etag: httpEtag(cosmosEtag) };
}

/**
 * Adds a comment by `principal` to alert `id` (from `changeableAlertId`: an alert they may
 * see): 409 once the alert has {@link maxCommentsPerAlert}, 412 on a stale `If-Match`.
 */
export async function postAlertComment(
  services: AlertReadServices,
  principal: Principal,
  id: string,
  text: string,
  ifMatch: VersionCondition<string>,
  now: Date = new Date(),
): Promise<{ comment: AlertComment; etag: string }> {
  let comment: AlertComment | undefined;
  const stored = await replaceAlert(services.telemetryDatabase, id, ifMatch, (alert) => {
    const comments = alert.comments ?? [];
    if (comments.length >= maxCommentsPerAlert) {
      throw new ConflictError(
        'state',
        `This alert already has ${maxCommentsPerAlert} comments, the most it keeps.`,
      );
    }
    comment = { id: comments.length + 1, author: principal.subject, at: now.toISOString(), text };
    return Promise.resolve({ ...alert, comments: [...comments, comment] });
  });
  if (!comment) throw new Error('The comment was not stored');
  return { comment, etag: stored.etag };
}
