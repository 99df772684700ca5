// Requests in proto3 JSON that mostly make sense, built from a message's descriptor: every field
// kind, the well-known types in their JSON forms, ids that exist in the running mesh, and values
// at the edges of each type. Mostly valid input reaches the handlers and the database, where
// hostile JSON alone (json-doc.ts) would stop at the first parser.
import fc from "fast-check";
import {
  ScalarType,
  type DescEnum,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
} from "@bufbuild/protobuf";

export interface KnownValues {
  /** Ids of records in the mesh (products, shops, categories), so requests can hit real rows. */
  ids: string[];
}

/** How deep message fields nest before the generator stops at an empty message. */
const maxDepth = 3;

/**
 * `presence` is how often each field is set: "some" (half the time) varies requests most; "most"
 * (nine in ten) makes it likelier that every field a method requires is there.
 */
export function messageJson(
  message: DescMessage,
  known: KnownValues,
  presence: "some" | "most" = "some",
): fc.Arbitrary<JsonObject> {
  return new MessageJson(known, presence === "most" ? 10 : 2).of(message, 0);
}

class MessageJson {
  readonly #known: KnownValues;
  /** One field in this many is left out. */
  readonly #absentOneIn: number;
  readonly #cache = new Map<string, fc.Arbitrary<JsonObject>>();

  constructor(known: KnownValues, absentOneIn: number) {
    this.#known = known;
    this.#absentOneIn = absentOneIn;
  }

  of(message: DescMessage, depth: number): fc.Arbitrary<JsonObject> {
    const key = `${message.typeName}@${depth}`;
    let arbitrary = this.#cache.get(key);
    if (!arbitrary) {
      arbitrary = depth > maxDepth ? fc.constant({}) : this.#build(message, depth);
      this.#cache.set(key, arbitrary);
    }
    return arbitrary;
  }

  #build(message: DescMessage, depth: number): fc.Arbitrary<JsonObject> {
    // Members of a oneof are alternatives: at most one is set, as valid JSON has it.
    const parts: Array<fc.Arbitrary<Array<[string, JsonValue]>>> = [];
    for (const field of message.fields) {
      if (field.oneof) continue;
      parts.push(
        fc.option(
          this.#field(field, message, depth).map((value): Array<[string, JsonValue]> => [[field.jsonName, value]]),
          { nil: [], freq: this.#absentOneIn },
        ),
      );
    }
    for (const oneof of message.oneofs) {
      const members = oneof.fields.map((field) =>
        this.#field(field, message, depth).map((value): Array<[string, JsonValue]> => [[field.jsonName, value]]),
      );
      parts.push(fc.option(fc.oneof(...members), { nil: [], freq: this.#absentOneIn }));
    }
    return fc.tuple(...parts).map((entries) => Object.fromEntries(entries.flat()));
  }

  #field(field: DescField, parent: DescMessage, depth: number): fc.Arbitrary<JsonValue> {
    switch (field.fieldKind) {
      case "scalar":
        return scalarValue(field.scalar, field.name, this.#known);
      case "enum":
        return enumValue(field.enum);
      case "message":
        return this.#messageValue(field.message, parent, depth);
      case "list": {
        const item =
          field.listKind === "scalar"
            ? scalarValue(field.scalar, field.name, this.#known)
            : field.listKind === "enum"
              ? enumValue(field.enum)
              : this.#messageValue(field.message, parent, depth);
        return fc.array(item, { maxLength: 4 });
      }
      case "map": {
        const value =
          field.mapKind === "scalar"
            ? scalarValue(field.scalar, field.name, this.#known)
            : field.mapKind === "enum"
              ? enumValue(field.enum)
              : this.#messageValue(field.message, parent, depth);
        const key = scalarValue(field.mapKey, field.name, this.#known).map(String);
        return fc.dictionary(key, value, { maxKeys: 3 });
      }
    }
  }

  #messageValue(message: DescMessage, parent: DescMessage, depth: number): fc.Arbitrary<JsonValue> {
    switch (message.typeName) {
      case "google.protobuf.Timestamp":
        return timestamp;
      case "google.protobuf.Duration":
        return fc.integer({ min: -10_000, max: 1_000_000 }).map((seconds) => `${seconds}s`);
      case "google.protobuf.FieldMask":
        return fieldMask(parent);
      case "google.protobuf.Struct":
        return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), {
          maxKeys: 3,
        }) as fc.Arbitrary<JsonValue>;
      case "google.protobuf.Value":
        return fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>;
      case "google.protobuf.ListValue":
        return fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }) as fc.Arbitrary<JsonValue>;
      case "google.protobuf.Any":
      case "google.protobuf.Empty":
        return fc.constant({});
    }
    if (message.typeName.startsWith("google.protobuf.") && message.typeName.endsWith("Value")) {
      return scalarValue(
        (message.fields[0] as Extract<DescField, { fieldKind: "scalar" }>).scalar,
        "value",
        this.#known,
      );
    }
    return this.of(message, depth + 1);
  }
}

const timestamp = fc.oneof(
  fc
    .date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2100-01-01T00:00:00Z"), noInvalidDate: true })
    .map((date) => date.toISOString()),
  fc.constantFrom(
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "1970-01-01T00:00:00Z",
    new Date().toISOString(),
  ),
);

/** Paths naming fields of the message's message-typed siblings (the thing being updated), or not. */
function fieldMask(parent: DescMessage): fc.Arbitrary<string> {
  const names = parent.fields.flatMap((field) =>
    field.fieldKind === "message" ? field.message.fields.map((f) => f.jsonName) : [],
  );
  const path =
    names.length > 0 ? fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 10 })) : fc.string({ maxLength: 10 });
  return fc.array(path, { maxLength: 4 }).map((paths) => paths.join(","));
}

function enumValue(descEnum: DescEnum): fc.Arbitrary<JsonValue> {
  return fc.oneof(
    fc.constantFrom(...descEnum.values.map((value) => value.name)),
    fc.constantFrom(...descEnum.values.map((value) => value.number)),
  );
}

const int32Edges = [0, 1, -1, 2_147_483_647, -2_147_483_648];
const uint32Edges = [0, 1, 4_294_967_295];
const int64Edges = ["0", "-1", "9223372036854775807", "-9223372036854775808", "9007199254740993"];
const uint64Edges = ["0", "18446744073709551615", "9007199254740993"];

/** Strings for what a field's name says it holds, besides strings of every kind. */
function stringValue(name: string, known: KnownValues): fc.Arbitrary<string> {
  const ids = known.ids.length > 0 ? [fc.constantFrom(...known.ids)] : [];
  const general: Array<fc.Arbitrary<string>> = [
    fc.string({ maxLength: 24 }),
    fc.string({ unit: "grapheme", maxLength: 16 }),
    fc.string({ unit: "binary", maxLength: 16 }),
    fc.constantFrom(
      "",
      " ",
      "a",
      "%",
      "_",
      "\\",
      "' OR '1'='1",
      "\u0000",
      "😀",
      "\u202e",
      "x".repeat(256),
      "USD",
      "DE",
      "tok_visa",
      "tok_chargeDeclined",
    ),
    fc.uuid(),
    ...ids,
  ];
  const hinted: Array<fc.Arbitrary<string>> = [];
  if (name === "id" || name.endsWith("_id") || name.endsWith("_ids")) hinted.push(fc.uuid(), ...ids, ...ids);
  if (name.includes("email")) hinted.push(fc.emailAddress());
  if (name.endsWith("currency_code")) hinted.push(fc.constantFrom("USD", "USD", "USD", "EUR", "usd", "XXX"));
  if (name.endsWith("country_code")) hinted.push(fc.constantFrom("DE", "US", "de", "ZZ"));
  if (name.includes("password")) hinted.push(fc.string({ minLength: 8, maxLength: 24 }));
  if (name.includes("slug")) hinted.push(fc.stringMatching(/^[a-z0-9]{1,8}(-[a-z0-9]{1,8}){0,2}$/));
  if (name.includes("phone")) hinted.push(fc.constantFrom("+49 30 1234567", "+1 555 0100"));
  if (name.includes("postal_code")) hinted.push(fc.constantFrom("10115", "94103"));
  if (/(^|_)(name|description|line\d|city|note|reason|query)$/.test(name)) hinted.push(fc.lorem({ maxCount: 3 }));
  if (name.endsWith("token") || name.endsWith("key")) hinted.push(opaqueCursor, fc.uuid());
  if (name.includes("url")) hinted.push(fc.webUrl());
  return fc.oneof(...general, ...hinted);
}

/** What keyset page tokens usually are: base64url JSON with short keys. */
const opaqueCursor = fc
  .dictionary(
    fc.constantFrom("o", "i", "p", "q", "s", "d", "id", "t"),
    fc.oneof(
      fc.uuid(),
      fc.constantFrom("newest", "price_asc", "price_desc", "-".repeat(36)),
      fc.double(),
      fc.integer(),
      fc.string({ maxLength: 6 }),
      fc.constant(null),
    ),
    { maxKeys: 4 },
  )
  .map((payload) => Buffer.from(JSON.stringify(payload)).toString("base64url"));

function scalarValue(scalar: ScalarType, name: string, known: KnownValues): fc.Arbitrary<JsonValue> {
  switch (scalar) {
    case ScalarType.STRING:
      return stringValue(name, known);
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 24 }).map((bytes) => Buffer.from(bytes).toString("base64"));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.oneof(
        fc.double({ min: -1_000, max: 1_000, noNaN: true }),
        fc.constantFrom("NaN", "Infinity", "-Infinity", 1e308, -1e308, 5e-324, 0),
      );
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer({ min: -5, max: 1_000 }), fc.constantFrom(...int32Edges));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.integer({ min: 0, max: 1_000 }), fc.constantFrom(...uint32Edges));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(fc.integer({ min: -5, max: 1_000_000 }).map(String), fc.constantFrom(...int64Edges));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.integer({ min: 0, max: 1_000_000 }).map(String), fc.constantFrom(...uint64Edges));
  }
}
