// Writes proto/vendor/buf/validate/validate.proto from the compiled descriptor that
// @bufbuild/protovalidate ships (the package has no .proto source, and the Buf Schema Registry
// is out of reach). Only the structure is printed — messages, enums, oneofs, fields, extensions
// — which is all `buf` needs to compile our `(buf.validate.field)` options. The predefined CEL
// rules are left out; at run time the package's own full descriptor is used (see buf.gen.yaml).
//
//   node deploy/local/vendor-protos.ts
//
// The other vendored files are copied verbatim from npm packages; see proto/vendor/README.md.
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isFieldSet } from "@bufbuild/protobuf";
import type { DescriptorProto, EnumDescriptorProto, FieldDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { file_buf_validate_validate } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";

const file = file_buf_validate_validate.proto;
const scalarNames: Partial<Record<Type, string>> = {
  [Type.DOUBLE]: "double",
  [Type.FLOAT]: "float",
  [Type.INT64]: "int64",
  [Type.UINT64]: "uint64",
  [Type.INT32]: "int32",
  [Type.FIXED64]: "fixed64",
  [Type.FIXED32]: "fixed32",
  [Type.BOOL]: "bool",
  [Type.STRING]: "string",
  [Type.BYTES]: "bytes",
  [Type.UINT32]: "uint32",
  [Type.SFIXED32]: "sfixed32",
  [Type.SFIXED64]: "sfixed64",
  [Type.SINT32]: "sint32",
  [Type.SINT64]: "sint64",
};

// proto2 descriptors: an unset oneof_index reads as 0, so presence must be asked for.
function oneofIndexOf(field: FieldDescriptorProto): number | undefined {
  return isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) && !field.proto3Optional ? field.oneofIndex : undefined;
}

function typeName(field: FieldDescriptorProto): string {
  return scalarNames[field.type] ?? field.typeName;
}

function defaultJsonName(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function fieldLine(field: FieldDescriptorProto, inOneof: boolean, message?: DescriptorProto): string {
  const mapEntry = message?.nestedType.find((n) => n.options?.mapEntry && field.typeName.endsWith(`.${n.name}`));
  if (mapEntry) {
    const [key, value] = mapEntry.field;
    return `map<${typeName(key!)}, ${typeName(value!)}> ${field.name} = ${field.number};`;
  }
  const label = inOneof ? "" : field.label === Label.REPEATED ? "repeated " : field.label === Label.REQUIRED ? "required " : "optional ";
  const options: string[] = [];
  if (field.jsonName && field.jsonName !== defaultJsonName(field.name)) options.push(`json_name = "${field.jsonName}"`);
  if (field.defaultValue) {
    const quoted = field.type === Type.STRING || field.type === Type.BYTES;
    options.push(`default = ${quoted ? JSON.stringify(field.defaultValue) : field.defaultValue}`);
  }
  if (field.options && isFieldSet(field.options, FieldOptionsSchema.field.packed)) options.push(`packed = ${field.options.packed}`);
  const suffix = options.length > 0 ? ` [${options.join(", ")}]` : "";
  return `${label}${typeName(field)} ${field.name} = ${field.number}${suffix};`;
}

function printEnum(e: EnumDescriptorProto, indent: string): string[] {
  return [
    `${indent}enum ${e.name} {`,
    ...e.value.map((v) => `${indent}  ${v.name} = ${v.number};`),
    `${indent}}`,
  ];
}

function printMessage(message: DescriptorProto, indent: string): string[] {
  const inner = `${indent}  `;
  const lines = [`${indent}message ${message.name} {`];
  for (const range of message.extensionRange) lines.push(`${inner}extensions ${range.start} to ${range.end - 1 >= 536870911 ? "max" : range.end - 1};`);
  for (const range of message.reservedRange) lines.push(`${inner}reserved ${range.start} to ${range.end - 1};`);
  if (message.reservedName.length > 0) lines.push(`${inner}reserved ${message.reservedName.map((n) => `"${n}"`).join(", ")};`);
  for (const nested of message.enumType) lines.push(...printEnum(nested, inner));
  for (const nested of message.nestedType) if (!nested.options?.mapEntry) lines.push(...printMessage(nested, inner));
  message.oneofDecl.forEach((oneof, index) => {
    const members = message.field.filter((f) => oneofIndexOf(f) === index);
    if (members.length === 0) return;
    lines.push(`${inner}oneof ${oneof.name} {`, ...members.map((f) => `${inner}  ${fieldLine(f, true)}`), `${inner}}`);
  });
  for (const field of message.field) {
    if (oneofIndexOf(field) !== undefined) continue;
    lines.push(`${inner}${fieldLine(field, false, message)}`);
  }
  for (const extension of message.extension) lines.push(...printExtension([extension], inner));
  lines.push(`${indent}}`);
  return lines;
}

function printExtension(fields: FieldDescriptorProto[], indent: string): string[] {
  const byExtendee = Map.groupBy(fields, (f) => f.extendee);
  return [...byExtendee].flatMap(([extendee, members]) => [
    `${indent}extend ${extendee} {`,
    ...members.map((f) => `${indent}  ${fieldLine(f, false)}`),
    `${indent}}`,
  ]);
}

const text = [
  "// Regenerated from the descriptor shipped in @bufbuild/protovalidate by",
  "// deploy/local/vendor-protos.ts. Rule options (predefined CEL) are omitted; at run time the",
  "// package's own full descriptor is used. Do not edit by hand.",
  `syntax = "${file.syntax || "proto2"}";`,
  "",
  `package ${file.package};`,
  "",
  ...file.dependency.map((d) => `import "${d}";`),
  "",
  ...printExtension(file.extension, ""),
  ...file.messageType.flatMap((m) => printMessage(m, "")),
  ...file.enumType.flatMap((e) => printEnum(e, "")),
  "",
].join("\n");

const target = fileURLToPath(new URL("../../proto/vendor/buf/validate/validate.proto", import.meta.url));
writeFileSync(target, text);
process.stdout.write(`wrote ${target}\n`);
