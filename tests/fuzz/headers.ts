// Request headers a client may send wrong: protocol headers with values outside their grammar
// (timeouts, versions, encodings, te), tracing and forwarding headers, and authorization from a
// real token of each role to every kind of junk. Generated cases name a token by role; the
// token itself is filled in when the case is sent, so a seed replays against a new mesh.
import fc from "fast-check";

export type Role = "customer" | "seller" | "admin" | "service";

export type Authorization =
  | { kind: "none" }
  | { kind: "token"; role: Role }
  | {
      kind: "mangled";
      role: Role;
      how: "lowercase" | "truncated" | "flipped" | "doubleSpace" | "noScheme" | "trailing";
    }
  | { kind: "unsigned"; role: Role }
  | { kind: "literal"; value: string };

const roles: Role[] = ["customer", "seller", "admin", "service"];

export const authorization: fc.Arbitrary<Authorization> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("token" as const), role: fc.constantFrom(...roles) }) },
  fc.record({
    kind: fc.constant("mangled" as const),
    role: fc.constantFrom(...roles),
    how: fc.constantFrom(
      "lowercase" as const,
      "truncated" as const,
      "flipped" as const,
      "doubleSpace" as const,
      "noScheme" as const,
      "trailing" as const,
    ),
  }),
  fc.record({ kind: fc.constant("unsigned" as const), role: fc.constantFrom(...roles) }),
  fc.record({
    kind: fc.constant("literal" as const),
    value: fc.oneof(
      fc.constantFrom(
        "",
        "Bearer",
        "Bearer ",
        "Bearer a.b.c",
        "Bearer ....",
        "Basic YWRtaW46YWRtaW4=",
        "Bearer =",
        `Bearer ${"a".repeat(9_000)}`,
        "Bearer e30.e30.e30",
      ),
      headerText(60).map((text) => `Bearer ${text}`),
      headerText(40),
    ),
  }),
);

/** A real token of one of `roles`: the kind of caller a method serves, so calls reach its handler. */
export function tokenOf(roles: Role[]): fc.Arbitrary<Authorization> {
  return fc.record({ kind: fc.constant("token" as const), role: fc.constantFrom(...roles) });
}

/** The header value for `auth`, given the mesh's tokens; undefined sends no header. */
export function authorizationHeader(auth: Authorization, tokens: Record<Role, string>): string | undefined {
  switch (auth.kind) {
    case "none":
      return undefined;
    case "token":
      return `Bearer ${tokens[auth.role]}`;
    case "unsigned": {
      // The token's own claims under alg "none" with a made-up signature.
      const [, payload] = tokens[auth.role].split(".");
      return `Bearer ${Buffer.from(JSON.stringify({ alg: "none", typ: "at+jwt" })).toString("base64url")}.${payload}.x`;
    }
    case "mangled":
      return mangled(tokens[auth.role], auth.how);
    case "literal":
      return auth.value;
  }
}

function mangled(token: string, how: Extract<Authorization, { kind: "mangled" }>["how"]): string {
  switch (how) {
    case "lowercase":
      return `bearer ${token}`;
    case "truncated":
      return `Bearer ${token.slice(0, -5)}`;
    case "flipped":
      return `Bearer ${token.slice(0, -2)}${token.at(-2) === "A" ? "B" : "A"}${token.slice(-1)}`;
    case "doubleSpace":
      return `Bearer  ${token}`;
    case "noScheme":
      return token;
    case "trailing":
      return `Bearer ${token}.extra`;
  }
}

/** Printable header text (what an HTTP client library lets through). */
function headerText(maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength });
}

/** The browser origin the fuzzed edge allows (CORS). */
export const allowedOrigin = "https://shop.fuzz.test";

/** Headers besides content-type and authorization, each with values in and out of its grammar. */
const headerValues: Record<string, string[]> = {
  "connect-protocol-version": ["1", "2", "", "0", "v1"],
  "connect-timeout-ms": ["0", "1", "-1", "1500", "99999999999", "1e3", "abc", " 5"],
  "grpc-timeout": ["1S", "0n", "100m", "99999999H", "1", "S", "-1S", "123456789S", "1.5S", "abc", "2S"],
  te: ["trailers", "gzip", "", "deflate, trailers"],
  "accept-encoding": ["gzip", "br", "*", "identity;q=0", "gzip;q=abc"],
  "connect-accept-encoding": ["gzip", "br", "identity", ""],
  "grpc-accept-encoding": ["gzip", "snappy", "identity,deflate", ""],
  "x-request-id": ["a".repeat(65), "id with spaces", "../../etc", ""],
  traceparent: [
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-00000000000000000000000000000000-0000000000000000-01",
    "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "00-xyz",
    "",
  ],
  tracestate: ["a=b", "=,=,", "x".repeat(600)],
  "x-forwarded-for": ["1.2.3.4", "junk", "::1, , ,", Array(300).fill("10.0.0.1").join(", "), "256.256.256.256"],
  origin: [allowedOrigin, "https://evil.test", "null", ""],
  // With OPTIONS (the random requests' methods include it): CORS preflights.
  "access-control-request-method": ["POST", "GET", "DELETE", "", "FOO"],
  "access-control-request-headers": ["content-type,authorization", "x-junk", ""],
  accept: ["application/json", "*/*", "text/html", ""],
  "x-user-bin": ["!!!notbase64", "AAAA", ""],
  "grpc-status": ["0", "13"],
};

export type ExtraHeaders = Array<[string, string]>;

export const extraHeaders: fc.Arbitrary<ExtraHeaders> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Array<[string, string]>>([]) },
  fc.array(
    fc.oneof(
      {
        weight: 4,
        arbitrary: fc
          .constantFrom(...Object.entries(headerValues))
          .chain(([name, values]) => fc.tuple(fc.constant(name), fc.oneof(fc.constantFrom(...values), headerText(20)))),
      },
      fc.tuple(fc.stringMatching(/^x-[a-z0-9-]{1,20}$/), headerText(40)),
      fc.tuple(fc.constant("x-big"), fc.constantFrom("x".repeat(9_000), "x".repeat(70_000))),
    ),
    { minLength: 1, maxLength: 4 },
  ),
);

/** Whether the case gave the server a deadline of its own (a deadline_exceeded is then fair). */
export function setsDeadline(headers: ExtraHeaders): boolean {
  return headers.some(([name]) => name === "connect-timeout-ms" || name === "grpc-timeout");
}
