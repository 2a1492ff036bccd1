/**
 * A status change racing another write to the same alert (the pipeline's next window, a
 * delivery record): without If-Match it is re-read and reapplied; with If-Match it is 412.
 * The other write is made for real, between the read and the replace, from the one callback
 * that runs there.
 */
import { describe, expect, it } from 'vitest';
import { StaleVersionError } from '../../../lib/errors.js';
import { applyBreach, type Alert } from '../../../lib/telemetry/alerts.js';
import { changeAlertStatus, getAlert } from '../../../lib/api/alerts.js';
import { defaultSeverityRules, gradeWindow } from '../../../lib/telemetry/severity.js';
import { useTestCosmos } from '../../helpers/cosmos.js';

const cosmos = useTestCosmos();

async function storedAlert(equipmentId: string): Promise<Alert> {
  const breach = gradeWindow({ temperature: 95 }, defaultSeverityRules).breaches[0];
  if (!breach) throw new Error('no breach');
  const alert = applyBreach(
    undefined,
    equipmentId,
    Date.UTC(2026, 10, 2),
    { readings: 1, metrics: {} },
    breach,
  );
  if (!alert) throw new Error('no alert');
  await cosmos.containers.alerts.items.create(alert);
  return alert;
}

/** A callback that, on its first call only, changes the alert underneath the caller. */
function interferingOnce(alert: Alert) {
  let calls = 0;
  return async () => {
    calls++;
    if (calls === 1) {
      await cosmos.containers.alerts
        .item(alert.id, alert.equipmentId)
        .patch([{ op: 'set', path: '/occurrences', value: 7 }]);
    }
    return 42;
  };
}

describe('changeAlertStatus under a concurrent write', () => {
  it('reapplies the change when the client gave no precondition', async () => {
    const alert = await storedAlert('R1');
    const result = await changeAlertStatus(
      cosmos.database,
      alert.id,
      'resolved',
      'admin-ada',
      undefined,
      new Date(),
      interferingOnce(alert),
    );
    expect(result.alert).toMatchObject({ status: 'resolved', occurrences: 7, serviceRecordId: 42 });
    expect((await getAlert(cosmos.database, alert.id)).status).toBe('resolved');
  });

  it('answers 412 when the client said which version it changes', async () => {
    const alert = await storedAlert('R2');
    const { etag } = await getAlert(cosmos.database, alert.id);
    await expect(
      changeAlertStatus(
        cosmos.database,
        alert.id,
        'resolved',
        'admin-ada',
        [etag],
        new Date(),
        interferingOnce(alert),
      ),
    ).rejects.toBeInstanceOf(StaleVersionError);
    const after = await getAlert(cosmos.database, alert.id);
    expect(after).toMatchObject({ status: 'open', occurrences: 7 });
  });
});
