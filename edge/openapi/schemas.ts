// Proto messages and enums as JSON Schema (the OpenAPI 3.1 dialect) in the shape of their proto3
// JSON mapping: lowerCamelCase names, 64-bit integers as strings, enums by value name, and the
// well-known types in their own JSON forms.
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { protoCamelCase } from "@bufbuild/protobuf/reflect";
import { isWrapperDesc } from "@bufbuild/protobuf/wkt";
import { commentOf, joinParagraphs } from "./proto-comments.ts";
import {
  allowedMaskPaths,
  isRequiredField,
  itemRules,
  listKeywords,
  rulesOf,
  valueKeywords,
} from "./validate-rules.ts";

/** A JSON object under construction; members left undefined are dropped by JSON.stringify. */
export type JsonObject = { [key: string]: unknown };

/** Well-known messages whose JSON is not an object of their fields (wrappers aside). */
const wellKnownSchemas: ReadonlyMap<string, JsonObject> = new Map<string, JsonObject>([
  ["google.protobuf.Timestamp", { type: "string", format: "date-time" }],
  [
    "google.protobuf.Duration",
    {
      type: "string",
      pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$",
      description: "Seconds with up to nine fractional digits and the suffix `s`, e.g. `1.5s`.",
    },
  ],
  ["google.protobuf.FieldMask", { type: "string", description: "Field paths in lowerCamelCase, comma-separated." }],
  ["google.protobuf.Struct", { type: "object", additionalProperties: true }],
  ["google.protobuf.Value", { description: "Any JSON value." }],
  ["google.protobuf.ListValue", { type: "array", items: {} }],
  [
    "google.protobuf.Any",
    {
      type: "object",
      properties: { "@type": { type: "string", description: "The type URL of the message." } },
      required: ["@type"],
      additionalProperties: true,
      description: "A message of the type `@type` names, its fields beside `@type`.",
    },
  ],
  ["google.protobuf.Empty", { type: "object" }],
]);

/** Messages whose JSON is an object of their fields, unlike the well-known types'. */
export function isPlainMessage(message: DescMessage): boolean {
  return !wellKnownSchemas.has(message.typeName) && !isWrapperDesc(message);
}

/** Messages whose JSON is one string, number or boolean: they can be query parameters. */
export function isSingleValue(message: DescMessage): boolean {
  return (
    isWrapperDesc(message) ||
    ["google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"].includes(message.typeName)
  );
}

/**
 * The `components.schemas` of a document: a message or enum is added, under its full proto name,
 * the first time a schema refers to it, so the document holds exactly the types its routes use.
 */
export class ComponentSchemas {
  readonly #schemas = new Map<string, JsonObject>();

  /** The schema of a message or enum: a `$ref`, or inline for the special well-known types. */
  typeSchema(type: DescMessage | DescEnum): JsonObject {
    if (type.kind === "message") {
      const wellKnown = wellKnownSchemas.get(type.typeName);
      if (wellKnown) return { ...wellKnown };
      if (isWrapperDesc(type)) return scalarSchema(type.fields[0]!.scalar);
    } else if (type.typeName === "google.protobuf.NullValue") {
      return { type: "null" };
    }
    if (!this.#schemas.has(type.typeName)) {
      // Registered before its fields are visited: a recursive message then refers to itself.
      this.#schemas.set(type.typeName, {});
      this.#schemas.set(type.typeName, type.kind === "message" ? this.objectSchema(type) : enumSchema(type));
    }
    return { $ref: `#/components/schemas/${type.typeName}` };
  }

  /** A message as a JSON object, without the fields in `omit` (those a route binds elsewhere). */
  objectSchema(message: DescMessage, omit: ReadonlySet<DescField> = new Set()): JsonObject {
    const fields = message.fields.filter((field) => !omit.has(field));
    const required = fields.filter(isRequiredField).map((field) => field.jsonName);
    // Proto3 JSON has no oneof wrapper: its fields are plain properties, one of them set at most.
    const oneofs = message.oneofs.map(
      (oneof) => `At most one of ${oneof.fields.map((field) => `\`${field.jsonName}\``).join(", ")} is set.`,
    );
    return {
      type: "object",
      description: joinParagraphs(commentOf(message), ...oneofs),
      properties: Object.fromEntries(fields.map((field) => [field.jsonName, this.fieldSchema(field)])),
      required: required.length > 0 ? required : undefined,
      deprecated: message.deprecated || undefined,
    };
  }

  /** A field's schema with its comment as the description and its buf.validate rules. */
  fieldSchema(field: DescField): JsonObject {
    const rules = rulesOf(field);
    let schema: JsonObject;
    if (field.fieldKind === "list") {
      schema = {
        type: "array",
        items: { ...this.#elementSchema(field), ...valueKeywords(itemRules(rules)) },
        ...listKeywords(rules),
      };
    } else if (field.fieldKind === "map") {
      // Proto3 JSON writes every map key as a string, whatever its proto type.
      schema = { type: "object", additionalProperties: this.#elementSchema(field) };
    } else {
      schema = { ...this.#elementSchema(field), ...valueKeywords(rules) };
    }
    const maskPaths = allowedMaskPaths(rules).map((path) => `\`${path.split(".").map(protoCamelCase).join(".")}\``);
    return {
      ...schema,
      description: joinParagraphs(
        commentOf(field),
        schema.description as string | undefined,
        maskPaths.length > 0 ? `Allowed paths: ${maskPaths.join(", ")}.` : undefined,
      ),
      deprecated: field.deprecated || undefined,
    };
  }

  /** The schemas added so far, sorted by name. */
  toRecord(): Record<string, JsonObject> {
    return Object.fromEntries([...this.#schemas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** The schema of one value of a field: the field itself, or an element of its list or map. */
  #elementSchema(field: DescField): JsonObject {
    if (field.message) return this.typeSchema(field.message);
    if (field.enum) return this.typeSchema(field.enum);
    return scalarSchema(field.scalar);
  }
}

function scalarSchema(scalar: ScalarType): JsonObject {
  switch (scalar) {
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "uint32", minimum: 0 };
    // JavaScript numbers lose precision above 2^53: proto3 JSON writes 64-bit integers as strings.
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return { type: "string", format: "int64" };
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return { type: "string", format: "uint64" };
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte", contentEncoding: "base64" };
  }
}

function enumSchema(type: DescEnum): JsonObject {
  const values = type.values.map((value) => {
    const comment = commentOf(value);
    return `- \`${value.name}\`${comment ? `: ${comment}` : ""}`;
  });
  return {
    type: "string",
    enum: type.values.map((value) => value.name),
    description: joinParagraphs(commentOf(type), values.join("\n")),
    deprecated: type.deprecated || undefined,
  };
}
