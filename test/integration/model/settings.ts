import { randomInt } from "node:crypto";
import type { ErrorKind, ErrorReason } from "../../../src/domain/errors.js";

// The model-based test's parameters: its seed and size (from the environment),
// the pools of names and identities, the clock's steps and how often it checks.

export const steps = positiveInteger("MODEL_STEPS", 3000);
export const seed = process.env.MODEL_SEED ? positiveInteger("MODEL_SEED", 0) : randomInt(2 ** 32);
export const batches = Math.max(5, Math.round(steps / 20));

// Small enough that ad-hoc rooms fill up with the identity pool below.
export const maxParticipantsLimit = 4;
export const identities = ["ann", "bob", "cy", "dee", "eve", "fay", "zoë 👋"];
export const roomNames = ["standup", "retro", "lobby", "café ☕", "Q"];
export const t0 = 1_700_000_000_000;

// Zero often, so that records share start times and ties fall to the sid.
export const clockSteps = [0, 0, 0, 1, 2, 999, 1000, 1001, 1500, 61_000];

// A limit no listing in this test reaches: reads of the whole store.
export const everything = 1_000_000;
export const sweepEvery = 500;

// Reading back everything costs a read per room and per identity, so the
// serial part does it this often; in between, each step reads back what it
// could have changed: the rooms it touched (found in every index), the
// identities and the names it touched.
export const fullCheckEvery = 100;
export const roomSidForm = /^RM[0-9a-fA-F]{32}$/;
export const participantSidForm = /^PA[0-9a-fA-F]{32}$/;

// The kind each reason has, stated here independently of errors.ts.
export const kindOf: Partial<Record<ErrorReason, ErrorKind>> = {
  invalid_parameter: "invalid_argument",
  room_name_invalid: "invalid_argument",
  max_participants_out_of_range: "invalid_argument",
  page_size_out_of_range: "invalid_argument",
  status_invalid: "invalid_argument",
  room_not_found: "not_found",
  participant_not_found: "not_found",
  room_exists: "already_exists",
  room_completed: "failed_precondition",
  room_full: "resource_exhausted",
};

export function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
  return value;
}
