// The REST routes of the API: the google.api.http annotations of the services, read with the
// transcoding the edge implements (single-segment path variables, `:verb` suffixes, body "*",
// body "<field>" or none). The edge's router (rest/routes.ts) and the OpenAPI generator both
// read the routes here, so the document lists exactly what the edge serves; a rule outside
// that subset stops both. Services without annotations (the internal ones) have no routes.
import {
  getOption,
  hasOption,
  type DescExtension,
  type DescField,
  type DescMessage,
  type DescMethod,
  type DescService,
} from "@bufbuild/protobuf";

export type HttpMethod = "get" | "put" | "post" | "delete" | "patch";

export interface HttpRoute {
  rpc: DescMethod;
  httpMethod: HttpMethod;
  /** The OpenAPI path: the template with each variable named by its JSON field path. */
  path: string;
  /** The request fields bound to path variables, in template order, each as a path from the request. */
  pathFields: DescField[][];
  /** "*" for the whole request, one field of it, or undefined when all comes from the query. */
  body: "*" | DescField | undefined;
}

/**
 * The members of google.api.HttpRule read here, as protobuf-es represents the message: the
 * extension comes from the request's descriptors, so its value is untyped.
 */
interface HttpRule {
  pattern: { case: HttpMethod; value: string } | { case: "custom"; value: unknown } | { case: undefined };
  body: string;
  responseBody: string;
  additionalBindings: unknown[];
}

/** `httpOption` is the google.api.http extension from the request's own descriptors. */
export function httpRoutes(services: DescService[], httpOption: DescExtension): HttpRoute[] {
  return services.flatMap((service) =>
    service.methods
      .filter((rpc) => hasOption(rpc, httpOption))
      .map((rpc) => routeOf(rpc, getOption(rpc, httpOption) as HttpRule)),
  );
}

/** The OpenAPI name of a path variable or query parameter: JSON names joined with dots. */
export function jsonPath(fields: DescField[]): string {
  return fields.map((field) => field.jsonName).join(".");
}

function routeOf(rpc: DescMethod, rule: HttpRule): HttpRoute {
  const unsupported = (what: string) => new Error(`${rpc.parent.typeName}.${rpc.name}: ${what} is not supported`);
  if (rule.pattern.case === undefined || rule.pattern.case === "custom")
    throw unsupported("a custom or missing HTTP method");
  if (rule.additionalBindings.length > 0) throw unsupported("additional_bindings");
  if (rule.responseBody !== "") throw unsupported("response_body");
  if (rpc.methodKind === "client_streaming" || rpc.methodKind === "bidi_streaming")
    throw unsupported("a client stream");

  const pathFields: DescField[][] = [];
  const path = rule.pattern.value.replace(/\{([^}=]+)(?:=([^}]*))?\}/g, (_, fieldPath: string, segments?: string) => {
    if (segments !== undefined && segments !== "*")
      throw unsupported(`the multi-segment variable {${fieldPath}=${segments}}`);
    const fields = resolveFieldPath(rpc, fieldPath);
    pathFields.push(fields);
    return `{${jsonPath(fields)}}`;
  });
  if (path.includes("*")) throw unsupported(`the wildcard in ${rule.pattern.value}`);

  let body: HttpRoute["body"];
  if (rule.body === "*") {
    body = "*";
  } else if (rule.body !== "") {
    body = rpc.input.fields.find((field) => field.name === rule.body);
    if (body === undefined)
      throw new Error(
        `${rpc.parent.typeName}.${rpc.name}: body "${rule.body}" is not a field of ${rpc.input.typeName}`,
      );
  }
  return { rpc, httpMethod: rule.pattern.case, path, pathFields, body };
}

/** `product.id` → [the request's `product` field, Product's `id` field]: message fields down to a scalar. */
function resolveFieldPath(rpc: DescMethod, fieldPath: string): DescField[] {
  const fields: DescField[] = [];
  const names = fieldPath.split(".");
  let message: DescMessage | undefined = rpc.input;
  for (const name of names) {
    const field: DescField | undefined = message?.fields.find((candidate) => candidate.name === name);
    if (field === undefined || field.fieldKind === "list" || field.fieldKind === "map") break;
    fields.push(field);
    message = field.message;
  }
  const last = fields.at(-1);
  if (fields.length !== names.length || last === undefined || last.fieldKind === "message") {
    throw new Error(
      `${rpc.parent.typeName}.${rpc.name}: path variable ${fieldPath} is not a singular scalar field of ${rpc.input.typeName}`,
    );
  }
  return fields;
}
