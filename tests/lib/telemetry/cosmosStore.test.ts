/**
 * The Cosmos store keeps a large batch partial under the item size limit, and reads it back
 * whole; it finds the unresolved alerts of a window's equipment with one query.
 */
import type { ItemDefinition } from '@azure/cosmos';
import { describe, expect, it } from 'vitest';
import {
  chunkEntries,
  CosmosTelemetryStore,
  maxPartialChunkBytes,
} from '../../../lib/telemetry/cosmosStore.js';
import { applyBreach, type Alert } from '../../../lib/telemetry/alerts.js';
import type { BatchPartial, PartialEntry } from '../../../lib/telemetry/partition.js';
import { defaultSeverityRules, gradeWindow, rulesFor } from '../../../lib/telemetry/severity.js';
import { addReading, emptyStats } from '../../../lib/telemetry/stats.js';
import { useTestCosmos } from '../../helpers/cosmos.js';

const cosmos = useTestCosmos();
const windowStart = Date.UTC(2026, 10, 24, 8, 0);

function entry(i: number): PartialEntry {
  const reading = {
    equipmentId: `gateway-device-${i}`,
    timestamp: windowStart + i,
    temperature: 70,
    vibration: 2,
    pressure: 40,
  };
  return {
    equipmentId: reading.equipmentId,
    windowStart,
    stats: addReading(emptyStats(), reading),
    latest: reading,
  };
}

describe('chunkEntries', () => {
  it('keeps order and puts everything in one chunk when it fits', () => {
    const entries = [entry(1), entry(2), entry(3)];
    expect(chunkEntries(entries)).toEqual([entries]);
    expect(chunkEntries([])).toEqual([[]]);
  });

  it('splits at the size limit without losing or reordering entries', () => {
    const entries = Array.from({ length: 50 }, (_, i) => entry(i));
    const chunks = chunkEntries(entries, 2000);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks.flat()).toEqual(entries);
  });
});

describe('CosmosTelemetryStore partials', () => {
  it('writes a partial too large for one item as chunks under the limit, and reads it back whole', async () => {
    const store = new CosmosTelemetryStore(cosmos.database, {
      aggregateTtlSeconds: 60,
      deadLetterTtlSeconds: 60,
    });
    const partial: BatchPartial = {
      id: '0:100-199',
      partitionId: '0',
      firstSequenceNumber: 100,
      lastSequenceNumber: 199,
      entries: Array.from({ length: 6000 }, (_, i) => entry(i)),
    };
    await store.writePartial(partial);
    const { resources } = await cosmos.database
      .container('pipelineState')
      .items.query<ItemDefinition>({
        query: 'SELECT * FROM c WHERE c.partialId = @id',
        parameters: [{ name: '@id', value: partial.id }],
      })
      .fetchAll();
    expect(resources.length).toBeGreaterThan(1);
    for (const document of resources) {
      expect(Buffer.byteLength(JSON.stringify(document))).toBeLessThan(2 * maxPartialChunkBytes);
    }
    const [back] = await store.readPartials('0', [partial.id]);
    expect(back).toEqual(partial);
  });
});

describe('CosmosTelemetryStore.unresolvedAlerts', () => {
  it('finds the open and acknowledged alerts of the given equipment only, never slots', async () => {
    const store = new CosmosTelemetryStore(cosmos.database, {
      aggregateTtlSeconds: 60,
      deadLetterTtlSeconds: 60,
    });
    const summary = { readings: 1, metrics: {} };
    const breach = gradeWindow(
      { temperature: 85, pressure: 3 },
      rulesFor(defaultSeverityRules),
    ).breaches;
    const alertOf = (equipmentId: string, index: number, status: Alert['status']): Alert => ({
      ...(applyBreach(undefined, equipmentId, windowStart, summary, breach[index]!) as Alert),
      status,
    });
    const written = [
      alertOf('unresolved-a', 0, 'open'),
      alertOf('unresolved-a', 1, 'acknowledged'),
      alertOf('unresolved-b', 0, 'cleared'),
      alertOf('unresolved-c', 0, 'resolved'),
      alertOf('unresolved-d', 0, 'open'), // not asked about
    ];
    for (const alert of written) expect(await store.writeAlert(alert, undefined)).toBe(true);
    const [first] = written;
    expect(
      await store.claimAlertSlot(
        'unresolved-b',
        'temperature',
        { alertId: first!.id, opening: first! },
        undefined,
      ),
    ).toBe(true);
    const found = await store.unresolvedAlerts(['unresolved-a', 'unresolved-b', 'unresolved-c']);
    expect(found.sort((a, b) => a.metric.localeCompare(b.metric))).toEqual([
      { equipmentId: 'unresolved-a', metric: 'pressure' },
      { equipmentId: 'unresolved-a', metric: 'temperature' },
    ]);
    expect(await store.unresolvedAlerts([])).toEqual([]);
  });
});
