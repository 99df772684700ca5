// UUIDv7 (RFC 9562): time-ordered, so ids of rows inserted later sort later. Keyset pages and
// the outbox relay rely on that order, and B-tree inserts stay at the right edge of the index.
import { randomFillSync } from "node:crypto";

const random = new Uint8Array(10);
let lastMs = 0;
let sequence = 0;

export function uuidv7(now = Date.now()): string {
  randomFillSync(random);
  // Within one millisecond a 12-bit counter (rand_a) keeps ids monotonic in this process.
  if (now <= lastMs) {
    sequence = (sequence + 1) & 0xfff;
    if (sequence === 0) lastMs += 1;
    now = lastMs;
  } else {
    lastMs = now;
    sequence = random[0]! & 0x7ff;
  }
  const hex = now.toString(16).padStart(12, "0");
  const randA = (0x7000 | sequence).toString(16);
  const variant = ((random[1]! & 0x3f) | 0x80).toString(16).padStart(2, "0") + hex2(random[2]!);
  const tail = Array.from(random.subarray(3, 9), hex2).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8)}-${randA}-${variant}-${tail}`;
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

/** The creation time a UUIDv7 carries in its first 48 bits. */
export function timeOfUuidv7(id: string): Date {
  return new Date(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16));
}
