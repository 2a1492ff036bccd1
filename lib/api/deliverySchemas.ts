/** The delivery log as the API shows it (`GET /api/alerts/{id}/deliveries`). */
import { z } from 'zod';
import { deliveryStatuses } from '../fanout/deliveryLog.js';
import { pageQuerySchema } from './schemas.js';

export const deliveryQuerySchema = pageQuerySchema.meta({ id: 'DeliveryQuery' });

export const deliverySchema = z
  .object({
    id: z.string(),
    alertId: z.string(),
    version: z.number().int().meta({ description: 'The alert version delivered.' }),
    eventType: z.string().meta({ description: 'The event delivered, e.g. `alert.raised`.' }),
    target: z.string().meta({
      description:
        'What was delivered to: `group:<name>`, `user:<id>`, `push:<platform>`, `email:<technicianId>`, `sms:<technicianId>`, `webhook:<webhookId>`.',
    }),
    channel: z.string().meta({ description: '`webPubSub`, `push`, `email`, `sms` or `webhook`.' }),
    recipient: z.string().meta({
      description:
        'The group, user id, push platform and tags, email address, phone number or URL used; email addresses and phone numbers are masked for non-admins.',
    }),
    status: z.enum(deliveryStatuses).meta({
      description:
        '`delivered`; `pending-retry` (the last attempt failed, the sweep retries it); `failed` (the last attempt failed and a newer version of the alert took the delivery over); `dropped` (owed but not sent, see `lastError`).',
    }),
    attempts: z.number().int().meta({ description: 'Sends tried so far.' }),
    firstAttemptAt: z.string().meta({ format: 'date-time' }),
    lastAttemptAt: z.string().meta({ format: 'date-time' }),
    providerMessageId: z
      .string()
      .optional()
      .meta({ description: 'The message or operation id the provider returned.' }),
    lastError: z
      .string()
      .optional()
      .meta({ description: 'Why the last failed attempt failed (at most 300 characters).' }),
  })
  .meta({ id: 'Delivery' });

export type Delivery = z.infer<typeof deliverySchema>;
