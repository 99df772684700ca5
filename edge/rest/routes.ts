// The edge's REST router: the routes of the public services (http-routes.ts) as path segments to
// match a request against — literals, one-segment variables, and an optional `:verb` at the end.
import type { DescField, DescService } from "@bufbuild/protobuf";
import { http as httpOption } from "../../gen/google/api/annotations_pb.ts";
import { httpRoutes, type HttpRoute } from "../http-routes.ts";

type Segment = { literal: string } | { variable: DescField[] };

export interface RestRoute extends HttpRoute {
  segments: Segment[];
  verb: string | undefined;
}

export interface RouteMatch {
  route: RestRoute;
  /** The request field each path variable names → the decoded path segment. */
  pathParams: Map<DescField[], string>;
}

export function restRoutes(services: DescService[]): RestRoute[] {
  return httpRoutes(services, httpOption).map((route) => {
    const [path, verb] = splitVerb(route.path);
    // Variables appear in the path in the order of pathFields.
    let variable = 0;
    const segments = path
      .split("/")
      .slice(1)
      .map(
        (part): Segment => (/^\{[^}]+\}$/.test(part) ? { variable: route.pathFields[variable++]! } : { literal: part }),
      );
    return { ...route, segments, verb };
  });
}

/** `/a/{b}:verb` → ["/a/{b}", "verb"]; a colon inside a variable is not a verb. */
function splitVerb(path: string): [string, string | undefined] {
  const colon = path.lastIndexOf(":");
  if (colon === -1 || colon < path.lastIndexOf("/") || path.indexOf("}", colon) !== -1) return [path, undefined];
  return [path.slice(0, colon), path.slice(colon + 1)];
}

/** Finds the route for a request, or undefined; `pathExists` tells 405 from 404. */
export function matchRoute(
  routes: RestRoute[],
  httpMethod: string,
  path: string,
): { match?: RouteMatch; pathExists: boolean } {
  const [bare, verb] = splitVerb(path);
  const parts = bare.split("/").slice(1);
  let pathExists = false;
  for (const route of routes) {
    if (route.verb !== verb || route.segments.length !== parts.length) continue;
    const pathParams = new Map<DescField[], string>();
    const fits = route.segments.every((segment, i) => {
      if ("literal" in segment) return segment.literal === parts[i];
      const value = safeDecode(parts[i]!);
      if (value === undefined || value === "") return false;
      pathParams.set(segment.variable, value);
      return true;
    });
    if (!fits) continue;
    pathExists = true;
    if (route.httpMethod === httpMethod.toLowerCase()) return { match: { route, pathParams }, pathExists };
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
