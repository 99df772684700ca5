// JSON as text a parser will meet, not as JavaScript values: a small tree that can hold what
// JSON.stringify never writes — the same key twice, `__proto__` as an ordinary key, numbers
// past float64 (1e999), bare NaN, nesting thousands deep — and then bytes that are not even
// UTF-8. Requests are built as such trees so hostile JSON is written exactly as intended.
import fc from "fast-check";
import type { JsonValue } from "@bufbuild/protobuf";

export type JsonDoc =
  | { kind: "object"; entries: Array<[string, JsonDoc]> }
  | { kind: "array"; items: JsonDoc[] }
  /** Written verbatim: a number literal, a keyword, or anything that is not JSON at all. */
  | { kind: "raw"; text: string };

export function docOf(value: JsonValue): JsonDoc {
  if (Array.isArray(value)) return { kind: "array", items: value.map(docOf) };
  if (value !== null && typeof value === "object")
    return { kind: "object", entries: Object.entries(value).map(([k, v]) => [k, docOf(v)]) };
  return { kind: "raw", text: JSON.stringify(value) };
}

function renderDoc(doc: JsonDoc): string {
  switch (doc.kind) {
    case "raw":
      return doc.text;
    case "array":
      return `[${doc.items.map(renderDoc).join(",")}]`;
    case "object":
      return `{${doc.entries.map(([key, value]) => `${JSON.stringify(key)}:${renderDoc(value)}`).join(",")}}`;
  }
}

const raw = (text: string): JsonDoc => ({ kind: "raw", text });

/** Values of the wrong kind, or at the edges of what a number type or parser holds. */
const strangeValues: JsonDoc[] = [
  "null",
  "true",
  "false",
  "0",
  "-0",
  "0.5",
  "-1",
  "1e999",
  "-1e999",
  "1e-999",
  "NaN",
  "Infinity",
  "-Infinity",
  "9223372036854775807",
  "9223372036854775808",
  "-9223372036854775809",
  "18446744073709551616",
  "4294967296",
  "2147483648",
  "9007199254740993",
  "1.7976931348623157e309",
  "0x10",
  "01",
  "+1",
  ".5",
  "1.",
  '"NaN"',
  '"Infinity"',
  '"-Infinity"',
  '"9223372036854775808"',
  '"-9223372036854775809"',
  '"1e3"',
  '"1.5"',
  '" 1"',
  '""',
  '"0x10"',
  '"-0"',
  '"\\u0000"',
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"\\\\"',
  '"%00"',
  "\"' OR '1'='1\"",
  '"%_\\\\%"',
  '"1970-01-01T00:00:00Z"',
  '"0001-01-01T00:00:00Z"',
  '"9999-12-31T23:59:59.999999999Z"',
  '"10000-01-01T00:00:00Z"',
  '"2026-02-30T25:61:61Z"',
  '"315576000001s"',
  '"-1s"',
  '"a,b,,"',
  '"__proto__"',
  "{}",
  "[]",
  "[null]",
  "[[]]",
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '{"@type":"x"}',
].map(raw);

/** Object keys that are special somewhere: prototype chains, protobuf-es JSON names, Any. */
const strangeKeys = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "@type",
  "",
  " ",
  "\u0000",
  "$typeName",
  "$unknown",
  "case",
  "value",
];

/** Enum values a handler's switch may not expect: unknown numbers and names. */
const strangeEnumValues: JsonDoc[] = [
  "-1",
  "99",
  "2147483647",
  "-2147483648",
  "2147483648",
  "1.5",
  '"NOT_A_VALUE"',
  '""',
  '"0"',
  '"99"',
  '"unspecified"',
].map(raw);

/** Deep nesting: arrays and objects some thousands of levels down. */
const deeplyNested = fc
  .record({ depth: fc.integer({ min: 100, max: 20_000 }), objects: fc.boolean() })
  .map(({ depth, objects }) =>
    raw(objects ? `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}` : `${"[".repeat(depth)}1${"]".repeat(depth)}`),
  );

/** Long strings and arrays: just under and well over typical validation and body limits. */
const oversized = fc
  .record({ length: fc.constantFrom(257, 1_025, 10_000, 70_000, 300_000), array: fc.boolean() })
  .map(({ length, array }) =>
    raw(
      array
        ? `[${Array(Math.ceil(length / 4))
            .fill('"x"')
            .join(",")}]`
        : JSON.stringify("é".repeat(length)),
    ),
  );

type Mutation =
  | { op: "replace"; at: number; value: JsonDoc }
  | { op: "insert"; at: number; key: string; value: JsonDoc }
  | { op: "duplicate"; at: number; value: JsonDoc }
  | { op: "enum"; at: number; value: JsonDoc };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    op: fc.constant("replace" as const),
    at: fc.nat(),
    value: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...strangeValues) },
      { weight: 1, arbitrary: deeplyNested },
      { weight: 1, arbitrary: oversized },
    ),
  }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom(...strangeKeys), fc.string({ maxLength: 12 })),
    value: fc.constantFrom(...strangeValues),
  }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), value: fc.constantFrom(...strangeValues) }),
  fc.record({ op: fc.constant("enum" as const), at: fc.nat(), value: fc.constantFrom(...strangeEnumValues) }),
);

/** A document with up to three hostile changes at places picked among its nodes. */
export function mutatedDoc(base: fc.Arbitrary<JsonDoc>): fc.Arbitrary<JsonDoc> {
  return fc
    .tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 }))
    .map(([doc, mutations]) => mutations.reduce(applyMutation, doc));
}

function applyMutation(doc: JsonDoc, mutation: Mutation): JsonDoc {
  const copy = structuredClone(doc);
  const objects = nodesOf(copy).filter((node): node is Extract<JsonDoc, { kind: "object" }> => node.kind === "object");
  const withEntries = objects.filter((node) => node.entries.length > 0);
  switch (mutation.op) {
    case "insert": {
      const target = objects[mutation.at % Math.max(1, objects.length)];
      if (target) target.entries.push([mutation.key, mutation.value]);
      return target ? copy : mutation.value;
    }
    case "replace":
    case "enum": {
      const target = withEntries[mutation.at % Math.max(1, withEntries.length)];
      if (!target) return mutation.value;
      const entry = target.entries[mutation.at % target.entries.length]!;
      entry[1] = mutation.value;
      return copy;
    }
    case "duplicate": {
      const target = withEntries[mutation.at % Math.max(1, withEntries.length)];
      if (!target) return copy;
      const [key] = target.entries[mutation.at % target.entries.length]!;
      target.entries.push([key, mutation.value]);
      return copy;
    }
  }
}

function nodesOf(doc: JsonDoc): JsonDoc[] {
  if (doc.kind === "raw") return [doc];
  const children = doc.kind === "array" ? doc.items : doc.entries.map(([, value]) => value);
  return [doc, ...children.flatMap(nodesOf)];
}

/** How the text of a document reaches the wire: as written, or damaged at the byte level. */
type TextDamage =
  | { kind: "none" }
  | { kind: "truncate"; at: number }
  | { kind: "bytes"; at: number; bytes: number[] }
  | { kind: "bom" }
  | { kind: "trailing"; text: string }
  | { kind: "replace"; text: string };

/** Byte sequences that are not UTF-8: stray continuation bytes, overlongs, surrogates, 0xFF. */
const invalidUtf8 = [
  [0xff],
  [0xc3, 0x28],
  [0x80],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
  [0xfe, 0xfe, 0xff, 0xff],
];

const textDamage: fc.Arbitrary<TextDamage> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("bytes" as const), at: fc.nat(), bytes: fc.constantFrom(...invalidUtf8) }),
  fc.constant({ kind: "bom" as const }),
  fc.record({
    kind: fc.constant("trailing" as const),
    text: fc.constantFrom("}", "]", ",", "x", "\u0000", " {}", "\n{}", "//", "/*"),
  }),
  fc.record({
    kind: fc.constant("replace" as const),
    text: fc.oneof(
      fc.constantFrom(
        "",
        " ",
        "null",
        "[]",
        '"x"',
        "1",
        "true",
        "{",
        "}",
        '{"a"}',
        "{'a':1}",
        "{a:1}",
        "NaN",
        "undefined",
      ),
      fc.string({ maxLength: 40 }),
    ),
  }),
);

export interface JsonBody {
  doc: JsonDoc;
  damage: TextDamage;
}

export function jsonBody(doc: fc.Arbitrary<JsonDoc>): fc.Arbitrary<JsonBody> {
  return fc.record({ doc, damage: textDamage });
}

export function jsonBodyBytes({ doc, damage }: JsonBody): Buffer {
  const text = Buffer.from(renderDoc(doc));
  switch (damage.kind) {
    case "none":
      return text;
    case "truncate":
      return text.subarray(0, damage.at % Math.max(1, text.length));
    case "bytes": {
      // Inside a string literal where there is one, so the parser reads the bytes as text.
      const quote = text.indexOf(0x22, damage.at % Math.max(1, text.length));
      const at = quote === -1 ? damage.at % (text.length + 1) : quote + 1;
      return Buffer.concat([text.subarray(0, at), Buffer.from(damage.bytes), text.subarray(at)]);
    }
    case "bom":
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]);
    case "trailing":
      return Buffer.concat([text, Buffer.from(damage.text)]);
    case "replace":
      return Buffer.from(damage.text);
  }
}
