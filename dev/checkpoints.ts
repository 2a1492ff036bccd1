/**
 * Stale Event Hubs checkpoints. A hub deleted and recreated under the same name (and the local
 * stand-in, which keeps its events in memory, is a new hub at every start) restarts its
 * offsets, and the service refuses to resume from an offset it does not have ("The supplied
 * offset ... is invalid. The last offset in the system is ..."), so the partition would be
 * stuck. The Event Hubs SDK team's remedy is to delete the checkpoints
 * (Azure/azure-sdk-for-java#28990); the pipeline's committed state in Cosmos, not the
 * checkpoints, is what prevents reprocessing (see docs/disaster-recovery.md, step 5).
 */
import type { ContainerClient } from '@azure/storage-blob';

/**
 * Deletes the checkpoints the blob checkpoint store keeps in `container`
 * (`{namespace}/{hub}/{consumer group}/checkpoint/{partition}`), leaving ownership records;
 * returns how many it deleted.
 */
export async function clearCheckpoints(container: ContainerClient): Promise<number> {
  let deleted = 0;
  for await (const blob of container.listBlobsFlat()) {
    if (!blob.name.includes('/checkpoint/')) continue;
    await container.deleteBlob(blob.name);
    deleted += 1;
  }
  return deleted;
}
