/**
 * A critical alert's message to admins names the nearest available technicians, through the
 * real deliverer, the Web PubSub stand-in with real clients, MariaDB and Redis: positions are
 * reported through the API as technicians' apps report them. Only the admins-only groups get
 * the suggestion (technicians' clients never see others' whereabouts), and it carries
 * distances, not positions.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignedUserIds } from '../../../lib/fanout/audience.js';
import { AlertDeliverer } from '../../../lib/fanout/deliverer.js';
import { nearestTechniciansForAlerts } from '../../../lib/fanout/nearbyTechnicians.js';
import { AlertOutbox } from '../../../lib/fanout/outbox.js';
import { createWebPubSubClient, webPubSubSender } from '../../../lib/fanout/webPubSub.js';
import type { Alert } from '../../../lib/telemetry/alerts.js';
import { Fixture, accessKey, hubName, waitFor } from '../../dev/webpubsub/helpers.js';
import { temperatureAlert } from '../../helpers/alerts.js';
import { call } from '../../helpers/api.js';
import { appServices } from '../../helpers/appServices.js';
import { useTestIssuer, useTokens } from '../../helpers/auth.js';
import { useTestCosmos } from '../../helpers/cosmos.js';
import { useTestDatabase } from '../../helpers/database.js';
import { adminFixtures } from '../../helpers/fixtures.js';

useTestDatabase();
const cosmos = useTestCosmos();
const issuer = useTestIssuer();
const tokens = useTokens(issuer, {
  admin: [['Admin'], 'admin-near'],
  near: [['Technician'], 'tech-alert-near'],
  mid: [['Technician'], 'tech-alert-mid'],
  far: [['Technician'], 'tech-alert-far'],
  farthest: [['Technician'], 'tech-alert-farthest'],
});
const { createEquipment, createTechnician } = adminFixtures(tokens);
const webPubSub = new Fixture();
const logged: string[] = [];

/** Bergen; the technicians stand about 1, 5, 20 and 60 km north of it. */
const machineAt = { latitude: 60.3913, longitude: 5.3221 };
let machineId = '';
let withoutCoordinates = '';
const ids: Record<string, number> = {};

beforeAll(async () => {
  await webPubSub.start({ hubs: [hubName] });
  machineId = String((await createEquipment(machineAt)).id);
  withoutCoordinates = String((await createEquipment()).id);
  const placed = [
    ['near', 'tech-alert-near', 'hydraulics', 0.009],
    ['mid', 'tech-alert-mid', 'electrical', 0.045],
    ['far', 'tech-alert-far', 'engines', 0.18],
    ['farthest', 'tech-alert-farthest', 'pumps', 0.54],
  ] as const;
  for (const [name, subject, specialization, north] of placed) {
    ids[name] = (await createTechnician({ externalId: subject, specialization })).id;
    const reported = await call('PUT', '/api/me/location', {
      token: tokens[name],
      json: {
        latitude: machineAt.latitude + north,
        longitude: machineAt.longitude,
        accuracy: 10,
        time: new Date().toISOString(),
      },
    });
    expect(reported.status, reported.text).toBe(204);
  }
  const assigned = await call('PUT', `/api/equipment/${machineId}/technicians/${ids['near']}`, {
    token: tokens.admin,
  });
  expect(assigned.status, assigned.text).toBeLessThan(300);
});
afterAll(async () => {
  await webPubSub.cleanup();
});

function deliverer() {
  const services = appServices();
  return new AlertDeliverer({
    outbox: new AlertOutbox(cosmos.containers.alerts),
    webPubSub: webPubSubSender(
      createWebPubSubClient({
        WEBPUBSUB__endpoint: webPubSub.standIn.endpoint,
        WEBPUBSUB_KEY: accessKey,
        WEBPUBSUB_HUB: hubName,
        WEBPUBSUB_TOKEN_MINUTES: 10,
        EQUIPMENT_STATUS_INTERVAL_SECONDS: 0,
      }),
    ),
    audience: (equipmentIds) => assignedUserIds(services.pool, equipmentIds),
    nearestTechnicians: nearestTechniciansForAlerts(
      () => services.pool,
      () => services.technicianLocations,
      (message) => logged.push(message),
    ),
    log: (message) => logged.push(message),
    sendTimeoutMs: 2_000,
  });
}

let windowMinute = 0;
async function raise(equipmentId: string, temperature: number): Promise<Alert> {
  const windowStart = Date.UTC(2026, 10, 2, 0, 5 * windowMinute++);
  const alert = temperatureAlert(equipmentId, temperature, windowStart);
  await cosmos.containers.alerts.items.upsert(alert);
  return alert;
}

type Data = { alert: { id: string; severity: string }; nearestTechnicians?: unknown };
const dataOf = (messages: { data: unknown }[], alert: Alert) =>
  messages.map((m) => m.data as Data).find((d) => d.alert.id === alert.id);

describe('a critical alert to admins', () => {
  it('names the three nearest active technicians, nearest first, to admins only', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-near', groups: ['alerts'] });
    const watcher = await webPubSub.connect({ userId: 'w', groups: [`equipment.${machineId}`] });
    const technician = await webPubSub.connect({ userId: 'tech-alert-near' });

    const alert = await raise(machineId, 95);
    expect(alert.severity).toBe('critical');
    expect(await deliverer().deliverWritten([alert])).toEqual({ delivered: 1, pending: 0 });
    await waitFor(() => dataOf(dashboard.groupMessages, alert) !== undefined, 'the admin message');
    await waitFor(() => dataOf(watcher.groupMessages, alert) !== undefined, 'the group message');
    await waitFor(() => dataOf(technician.serverMessages, alert) !== undefined, 'the user message');

    const suggested = dataOf(dashboard.groupMessages, alert)?.nearestTechnicians as {
      technicianId: number;
      specialization: string;
      distanceKm: number;
    }[];
    expect(suggested.map((t) => [t.technicianId, t.specialization])).toEqual([
      [ids['near'], 'hydraulics'],
      [ids['mid'], 'electrical'],
      [ids['far'], 'engines'],
    ]);
    expect(suggested[0]?.distanceKm).toBeCloseTo(1.0, 0);
    expect(suggested[2]?.distanceKm).toBeCloseTo(20, 0);
    // Distances only: no coordinates in what admins get, nothing for technicians' clients.
    expect(JSON.stringify(suggested)).not.toContain(String(machineAt.longitude));
    expect(dataOf(watcher.groupMessages, alert)).not.toHaveProperty('nearestTechnicians');
    expect(dataOf(technician.serverMessages, alert)).not.toHaveProperty('nearestTechnicians');
    expect(logged).toEqual([]);
  });

  it('suggests no one for a lesser alert, or for a machine without coordinates', async () => {
    const dashboard = await webPubSub.connect({ userId: 'admin-near', groups: ['alerts'] });
    const high = await raise(machineId, 85);
    expect(high.severity).toBe('high');
    const uncharted = await raise(withoutCoordinates, 95);
    expect(await deliverer().deliverWritten([high, uncharted])).toEqual({
      delivered: 2,
      pending: 0,
    });
    await waitFor(() => dashboard.groupMessages.length >= 2, 'both admin messages');
    expect(dataOf(dashboard.groupMessages, high)).not.toHaveProperty('nearestTechnicians');
    expect(dataOf(dashboard.groupMessages, uncharted)).not.toHaveProperty('nearestTechnicians');
  });
});
