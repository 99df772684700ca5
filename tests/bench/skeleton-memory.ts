// The floor under a service's idle memory: the least a service on the stack DESIGN.md binds can
// be — a grpc-js server whose one unary handler verifies a jose token, runs one kysely query over
// mysql2 and publishes to JetStream — measured idle after answering a few calls, with the V8
// settings every Bazaar process runs with. Starts a private MariaDB and nats-server, prints one
// table. For the memory part of tests/bench/PERFORMANCE.md:
//
//   node tests/bench/skeleton-memory.ts
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect as h2connect } from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
import { startInfra } from "../../deploy/local/infra.ts";
import { nodeOptions } from "../../deploy/node-options.ts";
import { operatorUser } from "../../deploy/local/nats-users.ts";
import { grpcUnary } from "./load/http2-client.ts";
import { grpcFrame } from "./wire.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const calls = 20;
const idleSeconds = 10;

// Plain JavaScript, so that no type stripper is loaded: the floor, not our way of running it.
const skeleton = `
import * as grpc from "@grpc/grpc-js";
import { Kysely, MysqlDialect, sql } from "kysely";
import { createPool } from "mysql2";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { generateKeyPair, SignJWT, jwtVerify } from "jose";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { EmptySchema } from "@bufbuild/protobuf/wkt";
const { mysqlUrl, natsUrl, user, pass } = JSON.parse(process.env.SKELETON);
const db = new Kysely({ dialect: new MysqlDialect({ pool: createPool({ uri: mysqlUrl, connectionLimit: 4 }) }) });
const nc = await connect({ servers: natsUrl, user, pass });
await (await jetstreamManager(nc)).streams.add({ name: "SKELETON", subjects: ["skeleton.>"] });
const js = jetstream(nc);
const { publicKey, privateKey } = await generateKeyPair("EdDSA");
const token = await new SignJWT({}).setProtectedHeader({ alg: "EdDSA" }).setSubject("someone").sign(privateKey);
const codec = { serialize: (m) => Buffer.from(toBinary(EmptySchema, m)), deserialize: (b) => fromBinary(EmptySchema, b) };
const server = new grpc.Server();
server.addService(
  { ping: { path: "/skeleton.Skeleton/Ping", requestStream: false, responseStream: false,
    requestSerialize: codec.serialize, requestDeserialize: codec.deserialize,
    responseSerialize: codec.serialize, responseDeserialize: codec.deserialize } },
  { ping: (call, callback) => {
    (async () => {
      await jwtVerify(token, publicKey);
      await sql\`select 1\`.execute(db);
      await js.publish("skeleton.pinged", new Uint8Array(16));
    })().then(() => callback(null, create(EmptySchema)), callback);
  } },
);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ port }));
});
`;

const dataDir = await mkdtemp(join(tmpdir(), "bazaar-skeleton-"));
const infra = await startInfra({ dataDir });
try {
  const child = spawn(process.execPath, ["--input-type=module", "-e", skeleton], {
    cwd: root,
    env: {
      ...process.env,
      NODE_OPTIONS: nodeOptions,
      SKELETON: JSON.stringify({
        mysqlUrl: `${infra.mysqlUrl}/mysql`,
        natsUrl: infra.natsUrl,
        user: operatorUser.user,
        pass: operatorUser.password,
      }),
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).port));
    child.once("exit", (code) => reject(new Error(`skeleton exited (${code})`)));
  });
  const session = h2connect(`http://127.0.0.1:${port}`);
  const empty = grpcFrame(EmptySchema, {});
  for (let i = 0; i < calls; i++) {
    const failure = await grpcUnary(session, "/skeleton.Skeleton/Ping", empty);
    if (failure) throw new Error(`skeleton call failed: ${failure}`);
  }
  session.close();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const rollup = await readFile(`/proc/${child.pid}/smaps_rollup`, "utf8");
  child.kill();
  const mib = (field: string) =>
    Math.round(Number(rollup.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"))![1]) / 1024);
  console.log(`Node ${process.version}, NODE_OPTIONS=${nodeOptions}\n`);
  console.log(`| process | RSS MB | PSS MB |\n|---|---:|---:|`);
  console.log(`| skeleton service, idle ${idleSeconds} s after ${calls} calls | ${mib("Rss")} | ${mib("Pss")} |`);
} finally {
  await infra.stop();
  await rm(dataDir, { recursive: true, force: true });
}
