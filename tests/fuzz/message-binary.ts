// Requests in the protobuf binary format: the valid encoding of a generated message, or that
// encoding damaged the ways a decoder must survive — truncated, bytes flipped, strings that are
// not UTF-8 (proto3 requires UTF-8), enum numbers nobody declared, varints too long, lengths
// past the end, wire types that do not exist, groups nested thousands deep, the message
// repeated thousands of times (repeated fields that long), or random bytes.
import fc from "fast-check";
import {
  create,
  fromJson,
  ScalarType,
  toBinary,
  type DescField,
  type DescMessage,
  type JsonObject,
} from "@bufbuild/protobuf";

type BinaryDamage =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; mask: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "badUtf8"; at: number; bytes: number[] }
  | { kind: "unknownEnum"; at: number; value: bigint }
  | { kind: "field"; number: number; wireType: number; payload: Uint8Array }
  | { kind: "overlongVarint" }
  | { kind: "lengthPastEnd"; number: number }
  | { kind: "nestedGroups"; depth: number }
  | { kind: "concatenated"; times: number }
  | { kind: "random"; bytes: Uint8Array };

export interface BinaryBody {
  json: JsonObject;
  damage: BinaryDamage;
}

const invalidUtf8 = [
  [0xff],
  [0xc3, 0x28],
  [0x80],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0x61, 0xe2, 0x82],
];

const damage: fc.Arbitrary<BinaryDamage> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: "none" as const }) },
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }),
  }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("badUtf8" as const),
      at: fc.nat(),
      bytes: fc.constantFrom(...invalidUtf8),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("unknownEnum" as const),
      at: fc.nat(),
      value: fc.constantFrom(-1n, 99n, 2_147_483_647n, -2_147_483_648n),
    }),
  },
  fc.record({
    kind: fc.constant("field" as const),
    number: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(0, 19_000, 536_870_911)),
    wireType: fc.integer({ min: 0, max: 7 }),
    payload: fc.uint8Array({ maxLength: 12 }),
  }),
  fc.constant({ kind: "overlongVarint" as const }),
  fc.record({ kind: fc.constant("lengthPastEnd" as const), number: fc.integer({ min: 1, max: 10 }) }),
  fc.record({ kind: fc.constant("nestedGroups" as const), depth: fc.integer({ min: 100, max: 30_000 }) }),
  fc.record({ kind: fc.constant("concatenated" as const), times: fc.integer({ min: 2, max: 20_000 }) }),
  fc.record({ kind: fc.constant("random" as const), bytes: fc.uint8Array({ maxLength: 256 }) }),
);

export function binaryBody(json: fc.Arbitrary<JsonObject>): fc.Arbitrary<BinaryBody> {
  return fc.record({ json, damage });
}

/** The bytes of a generated message with its damage applied. */
export function binaryBodyBytes(message: DescMessage, { json, damage }: BinaryBody): Buffer {
  const valid = Buffer.from(toBinary(message, decodeLeniently(message, json)));
  const at = (n: number) => n % (valid.length + 1);
  switch (damage.kind) {
    case "none":
      return valid;
    case "truncate":
      return valid.subarray(0, damage.at % Math.max(1, valid.length));
    case "flip": {
      if (valid.length === 0) return Buffer.from([damage.mask]);
      const copy = Buffer.from(valid);
      copy[damage.at % copy.length]! ^= damage.mask;
      return copy;
    }
    case "insert":
      return Buffer.concat([valid.subarray(0, at(damage.at)), damage.bytes, valid.subarray(at(damage.at))]);
    case "badUtf8":
      return Buffer.concat([
        valid,
        fieldOfKind(message, damage.at, isStringField, (number) => lengthDelimited(number, Buffer.from(damage.bytes))),
      ]);
    case "unknownEnum":
      return Buffer.concat([
        valid,
        fieldOfKind(message, damage.at, isEnumField, (number) => Buffer.concat([tag(number, 0), varint(damage.value)])),
      ]);
    case "field":
      return Buffer.concat([valid, tag(damage.number, damage.wireType), damage.payload]);
    case "overlongVarint":
      return Buffer.concat([valid, tag(1, 0), Buffer.alloc(11, 0xff)]);
    case "lengthPastEnd":
      return Buffer.concat([valid, tag(damage.number, 2), varint(0xffff_fffn), Buffer.from("abc")]);
    case "nestedGroups":
      // Start-group on field 1 again and again, never ended: a recursive skipper's stack.
      return Buffer.concat([valid, Buffer.alloc(damage.depth, 0x0b)]);
    case "concatenated": {
      // Concatenated messages merge: every repeated field grows by its items each time.
      const times = Math.min(damage.times, Math.floor((512 * 1024) / Math.max(1, valid.length)));
      return Buffer.concat(Array<Buffer>(Math.max(1, times)).fill(valid));
    }
    case "random":
      return Buffer.from(damage.bytes);
  }
}

/** The generated JSON as a message; JSON the library itself refuses becomes an empty message. */
function decodeLeniently(message: DescMessage, json: JsonObject) {
  try {
    return fromJson(message, json, { ignoreUnknownFields: true });
  } catch {
    return create(message);
  }
}

const isStringField = (field: DescField) =>
  (field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar")) &&
  field.scalar === ScalarType.STRING;
const isEnumField = (field: DescField) =>
  field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum");

/**
 * A field of the wanted kind written by `write`: one of the message's own, or one inside a
 * message field (wrapped in that field's length-delimited bytes), picked by `pick`.
 */
function fieldOfKind(
  message: DescMessage,
  pick: number,
  wanted: (field: DescField) => boolean,
  write: (number: number) => Buffer,
): Buffer {
  const candidates: Array<{ path: number[] }> = [];
  for (const field of message.fields) {
    if (wanted(field)) candidates.push({ path: [field.number] });
    if (field.fieldKind === "message") {
      for (const inner of field.message.fields)
        if (wanted(inner)) candidates.push({ path: [field.number, inner.number] });
    }
  }
  const chosen = candidates[pick % Math.max(1, candidates.length)];
  if (!chosen) return write(1);
  const [outer, inner] = chosen.path;
  return inner === undefined ? write(outer!) : lengthDelimited(outer!, write(inner));
}

function lengthDelimited(number: number, bytes: Buffer): Buffer {
  return Buffer.concat([tag(number, 2), varint(BigInt(bytes.length)), bytes]);
}

function tag(number: number, wireType: number): Buffer {
  return varint((BigInt(number) << 3n) | BigInt(wireType));
}

/** Base-128 varint; negative numbers as their 64-bit two's complement, as protobuf writes int32 -1. */
function varint(value: bigint): Buffer {
  let rest = BigInt.asUintN(64, value);
  const bytes: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest > 0n ? low | 0x80 : low);
  } while (rest > 0n);
  return Buffer.from(bytes);
}
