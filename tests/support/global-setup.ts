// Starts a real MariaDB and a real nats-server for the test run (temp dir, free ports) and tears
// them down afterwards, also when tests fail. BAZAAR_TEST_MYSQL_URL / BAZAAR_TEST_NATS_URL point
// the run at servers of your own instead.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startInfra } from "../../deploy/local/infra.ts";

declare module "vitest" {
  export interface ProvidedContext {
    mysqlUrl: string;
    natsUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const ownMysql = process.env.BAZAAR_TEST_MYSQL_URL;
  const ownNats = process.env.BAZAAR_TEST_NATS_URL;
  if (ownMysql && ownNats) {
    project.provide("mysqlUrl", ownMysql);
    project.provide("natsUrl", ownNats);
    return;
  }
  const dataDir = await mkdtemp(join(tmpdir(), "bazaar-test-"));
  const infra = await startInfra({ dataDir });
  project.provide("mysqlUrl", infra.mysqlUrl);
  project.provide("natsUrl", infra.natsUrl);
  return async () => {
    await infra.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
}
