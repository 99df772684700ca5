// What a service process holds before it serves anything, step by step: Node itself, the type
// stripping that runs the TypeScript sources, the libraries, the kit, a whole service's modules.
// Each step in a fresh process, resident set and V8 heap after a full GC. For the memory part
// of tests/bench/PERFORMANCE.md:
//
//   node tests/bench/import-memory.ts
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const libraries = [
  "@grpc/grpc-js",
  "@connectrpc/connect-node",
  "@bufbuild/protovalidate",
  "@aws-sdk/client-s3",
  "kysely",
  "mysql2",
  "@nats-io/transport-node",
  "@nats-io/jetstream",
  "prom-client",
  "@opentelemetry/api",
];
// What DESIGN.md binds every service to: grpc-js serving, protobuf-es messages, kysely over mysql2,
// nats.js for JetStream, jose for tokens.
const boundLibraries = [
  "@grpc/grpc-js",
  "@bufbuild/protobuf",
  "kysely",
  "mysql2",
  "@nats-io/transport-node",
  "@nats-io/jetstream",
  "jose",
];
const steps: Array<[string, string[]]> = [
  ["Node alone", []],
  ["+ one small TypeScript module (type stripping)", ["./services/kit/ids.ts"]],
  [
    "the libraries DESIGN.md binds (grpc-js, protobuf-es, kysely, mysql2, nats.js, jose), no TypeScript",
    boundLibraries,
  ],
  ["the libraries of the table below together, no TypeScript", libraries],
  ["the kit's service runtime (kit/lifecycle.ts)", ["./services/kit/lifecycle.ts"]],
  ["the order service's modules (order-service.ts)", ["./services/order/order-service.ts"]],
];

const measure = (modules: string[]): { rssMb: number; heapMb: number } => {
  const script = `for (const m of ${JSON.stringify(modules)}) await import(m);
    globalThis.gc(); const u = process.memoryUsage();
    console.log(JSON.stringify({ rssMb: Math.round(u.rss / 1048576), heapMb: Math.round(u.heapUsed / 1048576) }));`;
  const output = execFileSync(process.execPath, ["--expose-gc", "--input-type=module", "-e", script], {
    cwd: root,
    encoding: "utf8",
  });
  return JSON.parse(output.trim().split("\n").at(-1)!);
};

console.log(`Node ${process.version}\n\n| loaded | resident MB | V8 heap MB |\n|---|---:|---:|`);
for (const [title, modules] of steps) {
  const { rssMb, heapMb } = measure(modules);
  console.log(`| ${title} | ${rssMb} | ${heapMb} |`);
}
const alone = measure([]).rssMb;
console.log(`\n| library, alone | resident MB over Node alone |\n|---|---:|`);
for (const library of libraries) console.log(`| ${library} | ${measure([library]).rssMb - alone} |`);
