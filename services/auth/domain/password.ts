// Password hashing with argon2id at the OWASP minimum (m = 19 MiB, t = 2, p = 1).
// Hashing is deliberately expensive, so at most one hash per core runs at a time: a burst of
// logins queues here instead of starving every other request of CPU and memory.
import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";

const params = { memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
const slots = availableParallelism();
let running = 0;
const waiting: Array<() => void> = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
  running += 1;
  try {
    return await work();
  } finally {
    running -= 1;
    waiting.shift()?.();
  }
}

export function hashPassword(password: string): Promise<string> {
  return withSlot(() => hash(password, params));
}

export function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  return withSlot(() => verify(passwordHash, password));
}
