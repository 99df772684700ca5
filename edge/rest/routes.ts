// The REST routes of the public services, read from their `google.api.http` annotations: a path
// template per RPC (literal segments, `{field}` or `{a.b}` variables of one segment, and an
// optional `:verb` at the end), the HTTP method, and which part of the request the body holds.
import { getOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { http as httpRule } from "../../gen/google/api/annotations_pb.ts";

type Segment = { literal: string } | { variable: string[] };

export interface RestRoute {
  service: DescService;
  method: DescMethod;
  httpMethod: string;
  /** The annotation's template, e.g. `/v1/products/{id}:adjustStock`. */
  template: string;
  /** "" (no body), "*" (the whole request) or the request field the body holds. */
  body: string;
  segments: Segment[];
  verb: string | undefined;
}

export interface RouteMatch {
  route: RestRoute;
  /** Field paths (proto names) → the decoded path segment. */
  pathParams: Map<string[], string>;
}

export function restRoutes(services: DescService[]): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      const rule = getOption(method, httpRule);
      if (rule.pattern.case === undefined || rule.pattern.case === "custom") continue;
      const template = rule.pattern.value;
      routes.push({ service, method, httpMethod: rule.pattern.case.toUpperCase(), template, body: rule.body, ...parseTemplate(template) });
    }
  }
  return routes;
}

function parseTemplate(template: string): Pick<RestRoute, "segments" | "verb"> {
  const [path, verb] = splitVerb(template);
  const segments = path
    .split("/")
    .slice(1)
    .map((part): Segment => {
      const variable = /^\{([\w.]+)(?:=\*)?\}$/.exec(part);
      if (variable) return { variable: variable[1]!.split(".") };
      if (part.includes("{") || part.includes("*")) throw new Error(`unsupported path template ${template}`);
      return { literal: part };
    });
  return { segments, verb };
}

/** `/a/{b}:verb` → ["/a/{b}", "verb"]; a colon inside a variable is not a verb. */
function splitVerb(path: string): [string, string | undefined] {
  const colon = path.lastIndexOf(":");
  if (colon === -1 || colon < path.lastIndexOf("/") || path.indexOf("}", colon) !== -1) return [path, undefined];
  return [path.slice(0, colon), path.slice(colon + 1)];
}

/** Finds the route for a request, or undefined; `methodAllowed` tells 405 from 404. */
export function matchRoute(routes: RestRoute[], httpMethod: string, path: string): { match?: RouteMatch; pathExists: boolean } {
  const [bare, verb] = splitVerb(path);
  const parts = bare.split("/").slice(1);
  let pathExists = false;
  for (const route of routes) {
    if (route.verb !== verb || route.segments.length !== parts.length) continue;
    const pathParams = new Map<string[], string>();
    const fits = route.segments.every((segment, i) => {
      if ("literal" in segment) return segment.literal === parts[i];
      const value = safeDecode(parts[i]!);
      if (value === undefined || value === "") return false;
      pathParams.set(segment.variable, value);
      return true;
    });
    if (!fits) continue;
    pathExists = true;
    if (route.httpMethod === httpMethod) return { match: { route, pathParams }, pathExists };
  }
  return { pathExists };
}

function safeDecode(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}
