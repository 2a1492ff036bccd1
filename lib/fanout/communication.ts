/**
 * Email and SMS through Azure Communication Services with the real SDKs. In Azure the clients
 * sign in with the app's managed identity (`COMMUNICATION__endpoint`, a token for
 * `https://communication.azure.com//.default`, Azure/azure-sdk-for-js
 * sdk/communication/communication-common/src/credential/communicationAuthPolicy.ts); locally
 * with the stand-in's access key (`COMMUNICATION_CONNECTION`, dev/communication), which the
 * SDKs turn into the HMAC signature the service checks. The SDKs load at the first send, so a
 * cold start does not pay for them.
 */
import { createHash } from 'node:crypto';
import type { SectionConfig } from '../config.js';
import { azureCredential } from '../identity.js';
import { isLoopbackHost } from '../loopback.js';
import { UndeliverableError, type DeliveryReceipt } from './deliveryLog.js';

export interface EmailSender {
  /**
   * Sends one email and waits until the service reports the send operation `Succeeded`.
   * `operationId` (a UUID) names the operation: a retry with the same id is the same send.
   */
  send(
    email: {
      to: { address: string; displayName: string };
      subject: string;
      plainText: string;
      html: string;
    },
    operationId: string,
    signal: AbortSignal,
  ): Promise<DeliveryReceipt>;
}

export interface SmsSender {
  send(to: string, message: string, signal: AbortSignal): Promise<DeliveryReceipt>;
}

/**
 * A UUID derived from `name` (SHA-256, shaped as an RFC 9562 version 8 UUID): the same alert
 * version and technician always name the same email operation.
 */
export function nameBasedUuid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex').slice(0, 32).split('');
  hex[12] = '8';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

type Connection =
  | { kind: 'key'; connectionString: string }
  | { kind: 'identity'; endpoint: string; clientId: string | undefined };

/** How to reach the resource, or undefined when email and SMS are off. */
export function communicationConnection(
  config: SectionConfig<'communication'>,
): Connection | undefined {
  if (config.COMMUNICATION_CONNECTION && config.COMMUNICATION__endpoint)
    throw new Error(
      'COMMUNICATION_CONNECTION: set either it (local stand-in) or COMMUNICATION__endpoint',
    );
  if (config.COMMUNICATION_CONNECTION) {
    const endpoint = /endpoint=([^;]+);/i.exec(config.COMMUNICATION_CONNECTION)?.[1];
    if (!endpoint || !URL.canParse(endpoint))
      throw new Error('COMMUNICATION_CONNECTION: expected endpoint=<url>;accesskey=<key>');
    // An access key in settings is for the local stand-in; Azure uses the managed identity.
    if (!isLoopbackHost(new URL(endpoint).hostname))
      throw new Error(
        'COMMUNICATION_CONNECTION: only for a loopback stand-in; in Azure set COMMUNICATION__endpoint',
      );
    return { kind: 'key', connectionString: config.COMMUNICATION_CONNECTION };
  }
  if (config.COMMUNICATION__endpoint)
    return {
      kind: 'identity',
      endpoint: config.COMMUNICATION__endpoint,
      clientId: config.COMMUNICATION__clientId,
    };
  return undefined;
}

/**
 * One retry inside a send (the delivery sweep retries beyond that, with backoff); plain http
 * only to the loopback stand-in (`communicationConnection` allows keys nowhere else).
 */
function clientOptions(connection: Connection) {
  return {
    retryOptions: { maxRetries: 1, retryDelayInMs: 200 },
    allowInsecureConnection: connection.kind === 'key',
  };
}

export function createEmailSender(connection: Connection, senderAddress: string): EmailSender {
  type EmailClient = import('@azure/communication-email').EmailClient;
  let client: Promise<EmailClient> | undefined;
  const load = () =>
    (client ??= import('@azure/communication-email').then(({ EmailClient }) =>
      connection.kind === 'key'
        ? new EmailClient(connection.connectionString, clientOptions(connection))
        : new EmailClient(
            connection.endpoint,
            azureCredential(connection.clientId),
            clientOptions(connection),
          ),
    ));
  return {
    async send(email, operationId, abortSignal) {
      const poller = await (
        await load()
      ).beginSend(
        {
          senderAddress,
          content: { subject: email.subject, plainText: email.plainText, html: email.html },
          recipients: { to: [email.to] },
        },
        { operationId, abortSignal, updateIntervalInMs: 500 },
      );
      const result = await poller.pollUntilDone({ abortSignal });
      if (result.status !== 'Succeeded')
        throw new Error(`Email operation ${result.id} ended ${result.status}`);
      return { recipient: email.to.address, providerMessageId: result.id };
    },
  };
}

export function createSmsSender(connection: Connection, from: string): SmsSender {
  type SmsClient = import('@azure/communication-sms').SmsClient;
  let client: Promise<SmsClient> | undefined;
  const load = () =>
    (client ??= import('@azure/communication-sms').then(({ SmsClient }) =>
      connection.kind === 'key'
        ? new SmsClient(connection.connectionString, clientOptions(connection))
        : new SmsClient(
            connection.endpoint,
            azureCredential(connection.clientId),
            clientOptions(connection),
          ),
    ));
  return {
    async send(to, message, abortSignal) {
      const [result] = await (await load()).send({ from, to: [to], message }, { abortSignal });
      if (!result?.successful) {
        const reason = `SMS to ${to} refused (${result?.httpStatusCode ?? 'no result'}): ${result?.errorMessage ?? ''}`;
        // Each recipient has its own status: 400 is "invalid request data" for that number
        // (https://learn.microsoft.com/rest/api/communication/errorcodes, SMS service), which
        // sending again cannot change; 429, 5xx and the rest may pass on a later attempt.
        if (result?.httpStatusCode === 400) throw new UndeliverableError(reason);
        throw new Error(reason);
      }
      return {
        recipient: to,
        ...(result.messageId ? { providerMessageId: result.messageId } : {}),
      };
    },
  };
}
