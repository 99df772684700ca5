// Prints a value for BAZAAR_AUTH_SIGNING_KEYS: the keys of the file given (if any) followed by a
// new Ed25519 signing key, as the JSON array auth reads (private JWKs with kid and created; the
// newest signs).
//
//   node deploy/container/signing-key.ts > signing-keys.json                  first key
//   node deploy/container/signing-key.ts signing-keys.json > next.json        rotation
//
// The output is a private key: write it straight into the Secret (deploy/README.md, "Secrets"),
// never into the repository.
import { readFileSync } from "node:fs";
import { generateSigningKey } from "../../services/auth/domain/signing-keys.ts";

const [existingFile] = process.argv.slice(2);
const existing: unknown[] = existingFile ? (JSON.parse(readFileSync(existingFile, "utf8")) as unknown[]) : [];
const key = await generateSigningKey();
process.stdout.write(
  `${JSON.stringify([...existing, { ...key.privateJwk, created: key.createTime.toISOString() }])}\n`,
);
