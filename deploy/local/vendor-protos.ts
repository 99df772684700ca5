// Refreshes proto/vendor/ so that `buf` compiles our contracts with no network (the Buf Schema
// Registry is out of reach here).
//
//   node deploy/local/vendor-protos.ts [NODE_MODULES]
//
// - buf/validate/validate.proto is printed from the compiled descriptor that
//   @bufbuild/protovalidate ships (the package has no .proto source). Only the structure is
//   printed (messages, enums, oneofs, fields, extensions), which is all `buf` needs to compile
//   our `(buf.validate.field)` options; the predefined CEL rules (field options) are left out.
//   Generated code never uses this copy: buf.gen.yaml points its imports at the package's own
//   full descriptor.
// - With NODE_MODULES (a folder holding google-proto-files, grpc-health-check and
//   @grpc/reflection), the other vendored files are copied from those packages too. Run
//   `buf format -w` afterwards; proto/vendor/README.md lists the versions.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
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

const vendorDir = fileURLToPath(new URL("../../proto/vendor/", import.meta.url));

// vendored path → path inside NODE_MODULES
const copies: Record<string, string> = {
  "google/api/annotations.proto": "google-proto-files/google/api/annotations.proto",
  "google/api/http.proto": "google-proto-files/google/api/http.proto",
  "google/api/field_behavior.proto": "google-proto-files/google/api/field_behavior.proto",
  "google/rpc/status.proto": "google-proto-files/google/rpc/status.proto",
  "google/rpc/code.proto": "google-proto-files/google/rpc/code.proto",
  "google/rpc/error_details.proto": "google-proto-files/google/rpc/error_details.proto",
  "grpc/health/v1/health.proto": "grpc-health-check/proto/health/v1/health.proto",
  "grpc/reflection/v1/reflection.proto": "@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto",
};

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

// In a proto2 descriptor an unset oneof_index reads as 0, so presence must be asked for.
function oneofIndexOf(field: FieldDescriptorProto): number | undefined {
  return isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) ? field.oneofIndex : undefined;
}

function typeName(field: FieldDescriptorProto): string {
  return scalarNames[field.type] ?? field.typeName;
}

function fieldLine(field: FieldDescriptorProto, message?: DescriptorProto): string {
  const mapEntry = message?.nestedType.find((n) => n.options?.mapEntry && field.typeName.endsWith(`.${n.name}`));
  if (mapEntry) {
    const [key, value] = mapEntry.field;
    return `map<${typeName(key!)}, ${typeName(value!)}> ${field.name} = ${field.number};`;
  }
  const inOneof = message !== undefined && oneofIndexOf(field) !== undefined;
  const label = inOneof
    ? ""
    : { [Label.REPEATED]: "repeated ", [Label.REQUIRED]: "required ", [Label.OPTIONAL]: "optional " }[field.label];
  const options: string[] = [];
  const defaultJsonName = field.name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  if (field.jsonName && field.jsonName !== defaultJsonName) options.push(`json_name = "${field.jsonName}"`);
  if (isFieldSet(field, FieldDescriptorProtoSchema.field.defaultValue)) {
    const quoted = field.type === Type.STRING || field.type === Type.BYTES;
    options.push(`default = ${quoted ? JSON.stringify(field.defaultValue) : field.defaultValue}`);
  }
  if (field.options && isFieldSet(field.options, FieldOptionsSchema.field.packed))
    options.push(`packed = ${field.options.packed}`);
  const suffix = options.length > 0 ? ` [${options.join(", ")}]` : "";
  return `${label}${typeName(field)} ${field.name} = ${field.number}${suffix};`;
}

// Descriptor ranges: message ranges are end-exclusive, enum ranges end-inclusive.
function reserved(
  ranges: { start: number; end: number }[],
  names: string[],
  endExclusive: boolean,
  indent: string,
): string[] {
  const spans = ranges.map(({ start, end }) => {
    const last = endExclusive ? end - 1 : end;
    return last === start ? `${start}` : `${start} to ${last >= 536870911 ? "max" : last}`;
  });
  return [
    ...(spans.length > 0 ? [`${indent}reserved ${spans.join(", ")};`] : []),
    ...(names.length > 0 ? [`${indent}reserved ${names.map((n) => `"${n}"`).join(", ")};`] : []),
  ];
}

function printEnum(e: EnumDescriptorProto, indent: string): string[] {
  return [
    `${indent}enum ${e.name} {`,
    ...reserved(e.reservedRange, e.reservedName, false, `${indent}  `),
    ...e.value.map((v) => `${indent}  ${v.name} = ${v.number};`),
    `${indent}}`,
  ];
}

function printExtensions(fields: FieldDescriptorProto[], indent: string): string[] {
  return [...Map.groupBy(fields, (f) => f.extendee)].flatMap(([extendee, members]) => [
    `${indent}extend ${extendee} {`,
    ...members.map((f) => `${indent}  ${fieldLine(f)}`),
    `${indent}}`,
  ]);
}

// Fields keep their declaration order; a oneof is printed where its first member was declared.
function printMessage(message: DescriptorProto, indent: string): string[] {
  const inner = `${indent}  `;
  const lines = [
    `${indent}message ${message.name} {`,
    ...reserved(message.reservedRange, message.reservedName, true, inner),
  ];
  for (const range of message.extensionRange) {
    lines.push(`${inner}extensions ${range.start} to ${range.end - 1 >= 536870911 ? "max" : range.end - 1};`);
  }
  for (const nested of message.enumType) lines.push(...printEnum(nested, inner));
  for (const nested of message.nestedType) if (!nested.options?.mapEntry) lines.push(...printMessage(nested, inner));
  const printedOneofs = new Set<number>();
  for (const field of message.field) {
    const index = oneofIndexOf(field);
    if (index === undefined) {
      lines.push(`${inner}${fieldLine(field, message)}`);
    } else if (!printedOneofs.has(index)) {
      printedOneofs.add(index);
      const members = message.field.filter((f) => oneofIndexOf(f) === index);
      lines.push(`${inner}oneof ${message.oneofDecl[index]!.name} {`);
      lines.push(...members.map((f) => `${inner}  ${fieldLine(f, message)}`), `${inner}}`);
    }
  }
  lines.push(...printExtensions(message.extension, inner), `${indent}}`);
  return lines;
}

const file = file_buf_validate_validate.proto;
const validateProto = [
  "// Regenerated from the descriptor shipped in @bufbuild/protovalidate by",
  "// deploy/local/vendor-protos.ts; rule options omitted; at runtime the package's own full",
  "// descriptor is used. Do not edit by hand.",
  `syntax = "${file.syntax || "proto2"}";`,
  "",
  `package ${file.package};`,
  "",
  ...file.dependency.map((d) => `import "${d}";`),
  "",
  ...printExtensions(file.extension, ""),
  ...file.messageType.flatMap((m) => printMessage(m, "")),
  ...file.enumType.flatMap((e) => printEnum(e, "")),
  "",
].join("\n");

function write(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  process.stdout.write(`wrote ${path}\n`);
}

write(join(vendorDir, "buf/validate/validate.proto"), validateProto);

const nodeModules = process.argv[2];
if (nodeModules) {
  for (const [target, source] of Object.entries(copies)) {
    mkdirSync(dirname(join(vendorDir, target)), { recursive: true });
    copyFileSync(join(nodeModules, source), join(vendorDir, target));
    process.stdout.write(`copied ${source} → proto/vendor/${target}\n`);
  }
}
