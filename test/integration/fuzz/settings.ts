import { randomInt } from "node:crypto";
import { Random } from "../../support/random.js";

// The fuzz's parameters: its seed and scale (from the environment), its
// limits, and a random stream per transport.

export const seed = seedFromEnv();
export const scale = scaleFromEnv();
export const strict = process.env.FUZZ_STRICT === "1";
export const maxRequestBytes = 256 * 1024;
export const timeoutMs = 5000;

// Requests in flight at once: enough to keep the run short, few enough that
// none waits on another long enough to look like a hang.
export const concurrency = 16;

// Each transport draws from its own stream, so its cases do not depend on
// which other transports run (mocha --grep) or in which order.
export function randomFor(name: string): Random {
  let hash = 0x811c9dc5;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return new Random(seed ^ hash);
}

export function seedFromEnv(): number {
  const text = process.env.FUZZ_SEED;
  if (text === undefined || text === "") return randomInt(2 ** 32);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32)
    throw new Error(`FUZZ_SEED must be an integer from 0 to 4294967295, got ${text}`);
  return value;
}

export function scaleFromEnv(): number {
  const value = Number(process.env.FUZZ_SCALE ?? "1");
  if (!(value > 0)) throw new Error(`FUZZ_SCALE must be a positive number, got ${process.env.FUZZ_SCALE}`);
  return value;
}
