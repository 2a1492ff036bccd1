/**
 * Offline detection with two local host processes running side by side (each runs the
 * `detectOffline` timer and the Event Hub trigger), every hop real: readings sent with
 * `EventHubProducerClient` to explicit partitions of the Event Hubs stand-in, the pipeline's
 * documents in the local Cosmos server, equipment in MariaDB. The offline timeout is
 * shortened by setting to one minute. A machine that stops sending raises exactly one
 * offline alert and gets status `Offline`; its readings returning resolve it and restore its
 * status. A machine that stops on one partition while another still carries its readings
 * is not offline, and one that never sent is not either.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { EventHubProducerClient } from '@azure/event-hubs';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { useAppCosmos } from '../helpers/appCosmos.js';
import { useAppWebPubSub } from '../helpers/appWebPubSub.js';
import { useTestDatabase } from '../helpers/database.js';
import { sharedServicesHostEnv, useLocalMessaging } from '../helpers/e2e.js';
import { startLocalHost, type RunningHost } from '../helpers/localHost.js';
import { insertEquipment } from '../helpers/telemetry.js';

const db = useTestDatabase();
const cosmos = useAppCosmos();
const messaging = useLocalMessaging();
const webPubSub = useAppWebPubSub();
const hosts: RunningHost[] = [];

afterAll(async () => {
  await Promise.all(hosts.map((host) => host.stop()));
});

function hostEnv(name: string): Record<string, string> {
  return {
    ...sharedServicesHostEnv({
      name,
      mysqlUrl: db.url,
      cosmosDatabaseId: cosmos.databaseId,
      messaging,
      webPubSub,
      redisKeyPrefix: 'test-offline-hosts:',
    }),
    OFFLINE_TIMEOUT_MINUTES: '{"default": 1}',
  };
}

async function offlineAlerts(equipmentId: string): Promise<ItemDefinition[]> {
  const { resources } = await cosmos.database
    .container('alerts')
    .items.query<ItemDefinition>({
      query:
        "SELECT * FROM c WHERE c.equipmentId = @id AND c.metric = 'offline' AND NOT IS_DEFINED(c.type)",
      parameters: [{ name: '@id', value: equipmentId }],
    })
    .fetchAll();
  return resources;
}

async function statusOf(id: number): Promise<string> {
  const [rows] = await db.pool.query<RowDataPacket[]>('SELECT status FROM equipment WHERE id = ?', [
    id,
  ]);
  return String(rows[0]?.['status']);
}

/** Polls `check` (bounded) until it returns true; returns its last answer. */
async function eventually(check: () => Promise<boolean>, limitMs: number): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return true;
}

describe('a machine that goes silent, with two hosts running', () => {
  it('raises one offline alert and sets Offline; its readings returning clear it', async () => {
    for (const id of [81, 82, 83]) await insertEquipment(db.pool, id);
    hosts.push(await startLocalHost(hostEnv('host-a')));
    hosts.push(await startLocalHost(hostEnv('host-b')));
    const producer = new EventHubProducerClient(
      messaging.eventHubs.connectionString('device'),
      'telemetry',
    );
    const send = async (partitionId: string, equipmentIds: readonly string[]) => {
      const batch = await producer.createBatch({ partitionId });
      for (const equipmentId of equipmentIds) {
        const body = { equipmentId, timestamp: new Date().toISOString(), temperature: 60 };
        expect(batch.tryAdd({ body })).toBe(true);
      }
      await producer.sendBatch(batch);
    };
    // 81 sends on partitions 0 and 1 once, then stops; 82 sends on partition 0 once and goes
    // on sending on partition 1 throughout; 83 never sends.
    await send('0', ['81', '82']);
    await send('1', ['81', '82']);
    const sending = new AbortController();
    const keepSending = (async () => {
      while (!sending.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, 5000));
        await send('1', ['82']);
      }
    })();

    try {
      const raised = await eventually(
        async () => (await offlineAlerts('81')).length > 0 && (await statusOf(81)) === 'Offline',
        240_000,
      );
      const output = hosts.map((host) => host.output()).join('\n');
      expect(raised, output).toBe(true);
      // Both hosts' timers have run at least once more since: still one alert.
      await new Promise((resolve) => setTimeout(resolve, 35_000));
      const alerts = await offlineAlerts('81');
      expect(alerts).toHaveLength(1);
      expect(alerts[0]).toMatchObject({
        metric: 'offline',
        status: 'open',
        offline: { timeoutMinutes: 1, statusBefore: 'Operational' },
      });
      const [history] = await db.pool.query<RowDataPacket[]>(
        "SELECT actor FROM change_events WHERE aggregate_id = 81 AND event_type = 'StatusChanged'",
      );
      expect(history.map((row) => String(row['actor']))).toEqual(['pipeline']);
      expect(await offlineAlerts('82')).toEqual([]);
      expect(await offlineAlerts('83')).toEqual([]);
      expect(await statusOf(82)).toBe('Operational');
      expect(await statusOf(83)).toBe('Operational');

      await send('2', ['81']);
      const cleared = await eventually(
        async () =>
          (await offlineAlerts('81'))[0]?.['status'] === 'resolved' &&
          (await statusOf(81)) === 'Operational',
        120_000,
      );
      expect(cleared, hosts.map((host) => host.output()).join('\n')).toBe(true);
      expect(await offlineAlerts('81')).toHaveLength(1);
      expect((await offlineAlerts('81'))[0]).toMatchObject({ resolvedBy: 'pipeline' });
    } finally {
      sending.abort();
      await keepSending;
      await producer.close();
    }
  }, 480_000);
});
