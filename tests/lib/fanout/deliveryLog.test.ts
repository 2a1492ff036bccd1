/** The delivery log's pure parts: channels, bounded errors, masks, and the group filters. */
import { describe, expect, it } from 'vitest';
import { maskEmail, maskPhone } from '../../../lib/api/deliveries.js';
import {
  boundedError,
  channelOf,
  deliveryEntryId,
  maxErrorLength,
} from '../../../lib/fanout/deliveryLog.js';
import { groupSendFilter } from '../../../lib/fanout/routing.js';
import { parseFilter } from '../../../dev/webpubsub/filter.js';

describe('channelOf', () => {
  it('names the channel by the target prefix', () => {
    expect(channelOf('group:alerts')).toBe('webPubSub');
    expect(channelOf('user:tech-ana')).toBe('webPubSub');
    expect(channelOf('push:apple')).toBe('push');
    expect(channelOf('push')).toBe('push');
    expect(channelOf('email:7')).toBe('email');
    expect(channelOf('sms:7')).toBe('sms');
    expect(channelOf('webhook:3')).toBe('webhook');
  });
});

describe('boundedError', () => {
  it('keeps no secrets and no more than the bound', () => {
    const text = boundedError(
      new Error(
        'POST https://user:pw@hub.example.net/sis/messages?sig=abc123&se=1 failed: ' +
          'Authorization: Bearer eyJhbGciOi.secret; SharedAccessKey=s3cr3t accessKey: "k" ' +
          'x'.repeat(1000),
      ),
    );
    expect(text.length).toBeLessThanOrEqual(maxErrorLength);
    for (const secret of ['pw@', 'abc123', 'eyJhbGciOi', 's3cr3t', '"k"']) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('https://hub.example.net/sis/messages');
  });
});

describe('deliveryEntryId', () => {
  it('is one id per version and target, whatever the target holds', () => {
    expect(deliveryEntryId(1, 'user:a/b#c')).toMatch(/^0000000001\.[A-Za-z0-9_-]{22}$/);
    expect(deliveryEntryId(1, 'user:a')).not.toBe(deliveryEntryId(2, 'user:a'));
    expect(deliveryEntryId(1, 'user:a')).not.toBe(deliveryEntryId(1, 'user:b'));
  });
});

describe('masks', () => {
  it('masks emails and phone numbers', () => {
    expect(maskEmail('jane@example.com')).toBe('j***@example.com');
    expect(maskPhone('+14155554567')).toBe('+*******4567');
  });
});

describe('groupSendFilter', () => {
  const connection = (userId: string | undefined, groups: string[]) => ({
    id: 'c',
    userId,
    groups: new Set(groups),
  });
  it('leaves out who gets the alert by user, and admins from groups other than alerts', () => {
    const filter = parseFilter(groupSendFilter('equipment.1', ["o'hara", 'ana'], true) ?? '');
    expect(filter(connection('ana', ['equipment.1']))).toBe(false);
    expect(filter(connection("o'hara", ['equipment.1']))).toBe(false);
    expect(filter(connection('admin', ['alerts', 'admins', 'equipment.1']))).toBe(false);
    expect(filter(connection('admin-paged', ['admins', 'equipment.1']))).toBe(false);
    expect(filter(connection('screen', ['equipment.1']))).toBe(true);
    expect(filter(connection(undefined, ['equipment.1']))).toBe(true);
    const admins = parseFilter(groupSendFilter('admins', ['ana'], true) ?? '');
    expect(admins(connection('admin', ['alerts', 'admins']))).toBe(false);
    expect(admins(connection('admin-paged', ['admins']))).toBe(true);
    expect(groupSendFilter('alerts', [])).toBeUndefined();
  });
});
