// The buf.validate rules that JSON Schema states exactly: required fields, string lengths,
// patterns, formats and allowed values, bounds of numbers JSON carries as numbers, list sizes.
// CEL rules and the rest stay in the protos (and their comments); the services check every
// rule in any case, so a schema that says less is incomplete but never wrong.
import { getOption, hasOption, type DescField } from "@bufbuild/protobuf";
import {
  field as fieldRulesOption,
  Ignore,
  type FieldRules,
  type StringRules,
} from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import type { JsonObject } from "./schemas.ts";

export function rulesOf(field: DescField): FieldRules | undefined {
  return hasOption(field, fieldRulesOption) ? getOption(field, fieldRulesOption) : undefined;
}

/** Only `required = true` makes a property required: proto3 JSON may omit any other field. */
export function isRequiredField(field: DescField): boolean {
  return rulesOf(field)?.required === true;
}

/** Keywords for one value: a singular field, or one element of a list (the list's `items` rules). */
export function valueKeywords(rules: FieldRules | undefined): JsonObject {
  if (rules === undefined || rules.ignore === Ignore.ALWAYS) return {};
  // IGNORE_IF_ZERO_VALUE lets "" and 0 through whatever the rules say, so only annotations
  // (format) still describe every accepted value.
  const annotationsOnly = rules.ignore === Ignore.IF_ZERO_VALUE;
  const { type } = rules;
  switch (type.case) {
    case "string":
      return stringKeywords(type.value, annotationsOnly);
    // 64-bit integers are JSON strings, where numeric bounds do not apply.
    case "int32":
    case "uint32":
    case "sint32":
    case "fixed32":
    case "sfixed32":
    case "float":
    case "double":
      return annotationsOnly ? {} : numberKeywords(type.value);
    default:
      return {};
  }
}

/** Keywords for a list itself; its elements take `valueKeywords(itemRules(rules))`. */
export function listKeywords(rules: FieldRules | undefined): JsonObject {
  // An empty list is the zero value that IGNORE_IF_ZERO_VALUE lets through.
  if (rules?.type.case !== "repeated" || rules.ignore !== Ignore.UNSPECIFIED) return {};
  const { minItems, maxItems, unique } = rules.type.value;
  return {
    minItems: minItems > 0n ? Number(minItems) : undefined,
    maxItems: maxItems > 0n ? Number(maxItems) : undefined,
    uniqueItems: unique || undefined,
  };
}

export function itemRules(rules: FieldRules | undefined): FieldRules | undefined {
  return rules?.type.case === "repeated" ? rules.type.value.items : undefined;
}

/** The paths a field mask may name (`field_mask.in`), as written in the proto. */
export function allowedMaskPaths(rules: FieldRules | undefined): string[] {
  return rules?.type.case === "fieldMask" ? rules.type.value.in : [];
}

const stringFormats: Readonly<Partial<Record<NonNullable<StringRules["wellKnown"]["case"]>, string>>> = {
  uuid: "uuid",
  email: "email",
  uri: "uri",
  uriRef: "uri-reference",
  hostname: "hostname",
  ipv4: "ipv4",
  ipv6: "ipv6",
};

function stringKeywords(rules: StringRules, annotationsOnly: boolean): JsonObject {
  const { wellKnown } = rules;
  const format = wellKnown.case !== undefined && wellKnown.value === true ? stringFormats[wellKnown.case] : undefined;
  if (annotationsOnly) return { format };
  // Unset lengths read as 0, where a bound says nothing anyway.
  const minLength = rules.len || rules.minLen;
  const maxLength = rules.len || rules.maxLen;
  return {
    format,
    minLength: minLength > 0n ? Number(minLength) : undefined,
    maxLength: maxLength > 0n ? Number(maxLength) : undefined,
    pattern: rules.pattern || undefined,
    enum: rules.in.length > 0 ? rules.in : undefined,
  };
}

type Bound<Kind extends string> = { case: Kind; value: number } | { case: undefined; value?: undefined };

/** The shape every 32-bit and floating-point rule message shares. */
interface NumberRules {
  greaterThan: Bound<"gt" | "gte">;
  lessThan: Bound<"lt" | "lte">;
  in: number[];
}

function numberKeywords({ greaterThan: low, lessThan: high, in: allowed }: NumberRules): JsonObject {
  // With the upper bound below the lower one protovalidate means "outside the range", which
  // these keywords cannot say.
  if (low.case !== undefined && high.case !== undefined && high.value < low.value) return {};
  return {
    minimum: low.case === "gte" ? low.value : undefined,
    exclusiveMinimum: low.case === "gt" ? low.value : undefined,
    maximum: high.case === "lte" ? high.value : undefined,
    exclusiveMaximum: high.case === "lt" ? high.value : undefined,
    enum: allowed.length > 0 ? allowed : undefined,
  };
}
