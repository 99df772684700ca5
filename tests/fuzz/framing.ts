// The length-prefixed envelopes of gRPC, gRPC-Web and Connect streaming (flags byte, 4-byte
// big-endian length, payload), written right or wrong, and compression as a client declares it
// — declared and applied, declared and not applied, applied with a codec nobody supports.
import { gzipSync, deflateSync } from "node:zlib";
import fc from "fast-check";

export type Framing =
  | { kind: "one" }
  | { kind: "none" }
  | { kind: "twice" }
  | { kind: "cut"; at: number }
  | { kind: "declaredShort"; by: number }
  | { kind: "declaredHuge" }
  | { kind: "flags"; flags: number }
  | { kind: "partialHeader"; bytes: number };

export const oneFrame: Framing = { kind: "one" };

export const framing: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: "one" as const }) },
  fc.constant({ kind: "none" as const }),
  fc.constant({ kind: "twice" as const }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("declaredShort" as const), by: fc.integer({ min: 1, max: 8 }) }),
  fc.constant({ kind: "declaredHuge" as const }),
  fc.record({ kind: fc.constant("flags" as const), flags: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("partialHeader" as const), bytes: fc.integer({ min: 1, max: 4 }) }),
);

export interface Compression {
  /** The encoding header's value; undefined sends none. */
  declared: string | undefined;
  /** Whether the payload really is compressed (gzip or deflate) and flagged so. */
  applied: "gzip" | "deflate" | undefined;
}

export const uncompressed: Compression = { declared: undefined, applied: undefined };

export const compression: fc.Arbitrary<Compression> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ declared: undefined, applied: undefined }) },
  fc.constant({ declared: "gzip", applied: "gzip" as const }),
  fc.constant({ declared: "deflate", applied: "deflate" as const }),
  fc.record({ declared: fc.constantFrom("gzip", "deflate", "identity"), applied: fc.constant(undefined) }),
  fc.record({
    declared: fc.constantFrom("br", "zstd", "snappy", "gzip, gzip", "GZIP", "", "x-junk", "identity"),
    applied: fc.constantFrom(undefined, "gzip" as const),
  }),
);

export function compressed(payload: Buffer, applied: Compression["applied"]): Buffer {
  if (applied === "gzip") return gzipSync(payload);
  if (applied === "deflate") return deflateSync(payload);
  return payload;
}

export function envelope(flags: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt8(flags, 0);
  header.writeUInt32BE(declaredLength >>> 0, 1);
  return Buffer.concat([header, payload]);
}

/** The request body: `payload` enveloped as `framing` says, compressed as `compression` says. */
export function framedBody(payload: Buffer, framing: Framing, compression: Compression): Buffer {
  const bytes = compressed(payload, compression.applied);
  const flags = compression.applied ? 1 : 0;
  const one = envelope(flags, bytes);
  switch (framing.kind) {
    case "one":
      return one;
    case "none":
      return Buffer.alloc(0);
    case "twice":
      return Buffer.concat([one, one]);
    case "cut":
      return one.subarray(0, framing.at % one.length);
    case "declaredShort":
      return envelope(flags, bytes, Math.max(0, bytes.length - framing.by));
    case "declaredHuge":
      return envelope(flags, bytes, 0xffff_ffff);
    case "flags":
      return envelope(framing.flags, bytes);
    case "partialHeader":
      return one.subarray(0, framing.bytes);
  }
}
