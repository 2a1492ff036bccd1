/**
 * The local stack's keys and stand-ins: the simulator's default target (the Event Hubs
 * stand-in, from the keys `npm start` made), and the Communication Services stand-in that
 * `npm start` runs so alert emails and SMS flow on one machine, through the real SDKs.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ensureLocalMessaging, localDeviceConnectionString } from '../../dev/localStack.js';
import { loadSection } from '../../lib/config.js';
import {
  communicationConnection,
  createEmailSender,
  createSmsSender,
} from '../../lib/fanout/communication.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('localDeviceConnectionString', () => {
  it("is the send-only device key of this machine's local stack", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-keys-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, 'local-keys.json'),
      JSON.stringify({ device: 'ZGV2aWNl', app: 'YXBw', webPubSub: 'd3Bz' }),
    );
    expect(localDeviceConnectionString({ LOCAL_DATA_DIR: dir, LOCAL_EVENTHUBS_PORT: '5999' })).toBe(
      'Endpoint=sb://127.0.0.1:5999;SharedAccessKeyName=device;SharedAccessKey=ZGV2aWNl;' +
        'EntityPath=telemetry;UseDevelopmentEmulator=true',
    );
  });

  it('is undefined where the local stack never ran', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-keys-'));
    dirs.push(dir);
    expect(localDeviceConnectionString({ LOCAL_DATA_DIR: dir })).toBeUndefined();
  });
});

describe('ensureLocalMessaging: email and SMS', () => {
  /** Every stand-in but Communication Services points elsewhere, so only it starts. */
  const elsewhere = {
    AzureWebJobsStorage: 'DefaultEndpointsProtocol=http;AccountName=x;AccountKey=eA==',
    EventHubConnection: 'Endpoint=sb://127.0.0.1:1;SharedAccessKeyName=a;SharedAccessKey=eA==',
    WEBPUBSUB__endpoint: 'http://127.0.0.1:1',
    LOCAL_COMMUNICATION_PORT: '0',
  };

  it('starts the stand-in with a kept key, and what the real clients send is listed on it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-acs-'));
    dirs.push(dir);
    // Keys written before the stand-in existed: kept, and its key is added.
    const older = { device: 'ZGV2aWNl', app: 'YXBw', webPubSub: 'd3Bz' };
    writeFileSync(join(dir, 'local-keys.json'), JSON.stringify(older));
    const messaging = await ensureLocalMessaging({ ...elsewhere, LOCAL_DATA_DIR: dir });
    try {
      const standIn = messaging.communication;
      expect(standIn).toBeDefined();
      if (!standIn) return;
      const keys = JSON.parse(readFileSync(join(dir, 'local-keys.json'), 'utf8')) as Record<
        string,
        string
      >;
      expect(keys).toMatchObject(older);
      expect(keys['communication']).toBe(standIn.accessKey);
      expect(messaging.settings).toEqual({
        COMMUNICATION_CONNECTION: standIn.connectionString,
        EMAIL_SENDER_ADDRESS: 'DoNotReply@sis.example.com',
        SMS_FROM_NUMBER: '+15555550100',
      });

      // The app's own settings section and senders, as `npm start` builds them.
      const config = loadSection('communication', messaging.settings);
      const connection = communicationConnection(config);
      if (!connection || !config.EMAIL_SENDER_ADDRESS || !config.SMS_FROM_NUMBER)
        throw new Error('email and SMS should be on');
      const signal = AbortSignal.timeout(10_000);
      await createEmailSender(connection, config.EMAIL_SENDER_ADDRESS).send(
        {
          to: { address: 'dana@example.com', displayName: 'Dana' },
          subject: 'Critical: Press',
          plainText: 'Overheating',
          html: '<p>Overheating</p>',
        },
        '5f0c3a52-8d1e-4b6f-9a7c-2e4d6b8f0a13',
        signal,
      );
      await createSmsSender(connection, config.SMS_FROM_NUMBER).send(
        '+14255550123',
        'Critical: Press overheating',
        signal,
      );

      const listed = await fetch(standIn.messagesUrl);
      expect(listed.status).toBe(200);
      expect(await listed.json()).toEqual({
        emails: [
          {
            operationId: '5f0c3a52-8d1e-4b6f-9a7c-2e4d6b8f0a13',
            senderAddress: 'DoNotReply@sis.example.com',
            to: ['dana@example.com'],
            subject: 'Critical: Press',
            plainText: 'Overheating',
            html: '<p>Overheating</p>',
          },
        ],
        sms: [
          {
            messageId: expect.stringMatching(/^Outgoing_/) as unknown,
            from: '+15555550100',
            to: '+14255550123',
            message: 'Critical: Press overheating',
          },
        ],
      });
      // The listing is the stand-in's own; the service's paths still need the signature.
      expect((await fetch(`${standIn.endpoint}/emails/operations/x?api-version=1`)).status).toBe(
        401,
      );
    } finally {
      await messaging.stop();
    }
  });

  it('keeps senders that are set, and starts nothing where Communication Services is given', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sis-local-acs-'));
    dirs.push(dir);
    const own = await ensureLocalMessaging({
      ...elsewhere,
      LOCAL_DATA_DIR: dir,
      EMAIL_SENDER_ADDRESS: 'alerts@example.org',
    });
    try {
      expect(own.settings['EMAIL_SENDER_ADDRESS']).toBeUndefined();
      expect(own.settings['SMS_FROM_NUMBER']).toBe('+15555550100');
    } finally {
      await own.stop();
    }
    const given = await ensureLocalMessaging({
      ...elsewhere,
      LOCAL_DATA_DIR: dir,
      COMMUNICATION__endpoint: 'https://acs-x.europe.communication.azure.com',
    });
    try {
      expect(given.communication).toBeUndefined();
      expect(given.settings).toEqual({});
    } finally {
      await given.stop();
    }
  });
});
