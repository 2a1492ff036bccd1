/**
 * Partition key → partition, the way Event Hubs maps it: Bob Jenkins' lookup3 `hashlittle2` over
 * the key's UTF-8 bytes, the two halves XOR-ed and truncated to a signed 16-bit integer, modulo the
 * partition count. Ported from `@azure/event-hubs` (src/impl/partitionKeyToIdMapper.ts), which
 * documents it as the service's own algorithm; the conformance tests check the two agree, so the
 * buffered producer (which maps keys client-side) and the service-side mapping land events for a
 * key in the same partition.
 */

/** Index (into the hub's partition ids) of the partition a key maps to. */
export function partitionIndexForKey(partitionKey: string, partitionCount: number): number {
  const { b, c } = lookup3(Buffer.from(partitionKey, 'utf8'));
  const hash = new Int16Array([c ^ b])[0] ?? 0;
  return Math.abs(hash % partitionCount);
}

/** lookup3 `hashlittle2` with both seeds 0; returns the two 32-bit halves, unsigned. */
function lookup3(data: Buffer): { b: number; c: number } {
  let a: number;
  let b: number;
  let c: number;
  a = b = c = (0xdeadbeef + data.length) | 0;
  let index = 0;
  let size = data.length;
  const u32 = (at: number): number => data.readUInt32LE(at);
  const byte = (at: number): number => data[at] ?? 0;
  while (size > 12) {
    a = (a + u32(index)) | 0;
    b = (b + u32(index + 4)) | 0;
    c = (c + u32(index + 8)) | 0;
    a = (a - c) | 0;
    a ^= (c << 4) | (c >>> 28);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 6) | (a >>> 26);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 8) | (b >>> 24);
    b = (b + a) | 0;
    a = (a - c) | 0;
    a ^= (c << 16) | (c >>> 16);
    c = (c + b) | 0;
    b = (b - a) | 0;
    b ^= (a << 19) | (a >>> 13);
    a = (a + c) | 0;
    c = (c - b) | 0;
    c ^= (b << 4) | (b >>> 28);
    b = (b + a) | 0;
    index += 12;
    size -= 12;
  }
  // The tail: the fall-through cases of the C original, written out.
  switch (size) {
    case 12:
      a = (a + u32(index)) | 0;
      b = (b + u32(index + 4)) | 0;
      c = (c + u32(index + 8)) | 0;
      break;
    case 11:
    case 10:
    case 9:
      if (size >= 11) c = (c + (byte(index + 10) << 16)) | 0;
      if (size >= 10) c = (c + (byte(index + 9) << 8)) | 0;
      c = (c + byte(index + 8)) | 0;
      b = (b + u32(index + 4)) | 0;
      a = (a + u32(index)) | 0;
      break;
    case 8:
      b = (b + u32(index + 4)) | 0;
      a = (a + u32(index)) | 0;
      break;
    case 7:
    case 6:
    case 5:
      if (size >= 7) b = (b + (byte(index + 6) << 16)) | 0;
      if (size >= 6) b = (b + (byte(index + 5) << 8)) | 0;
      b = (b + byte(index + 4)) | 0;
      a = (a + u32(index)) | 0;
      break;
    case 4:
      a = (a + u32(index)) | 0;
      break;
    case 3:
    case 2:
    case 1:
      if (size >= 3) a = (a + (byte(index + 2) << 16)) | 0;
      if (size >= 2) a = (a + (byte(index + 1) << 8)) | 0;
      a = (a + byte(index)) | 0;
      break;
    default:
      return { b: b >>> 0, c: c >>> 0 };
  }
  c ^= b;
  c = (c - ((b << 14) | (b >>> 18))) | 0;
  a ^= c;
  a = (a - ((c << 11) | (c >>> 21))) | 0;
  b ^= a;
  b = (b - ((a << 25) | (a >>> 7))) | 0;
  c ^= b;
  c = (c - ((b << 16) | (b >>> 16))) | 0;
  a ^= c;
  a = (a - ((c << 4) | (c >>> 28))) | 0;
  b ^= a;
  b = (b - ((a << 14) | (a >>> 18))) | 0;
  c ^= b;
  c = (c - ((b << 24) | (b >>> 8))) | 0;
  return { b: b >>> 0, c: c >>> 0 };
}
