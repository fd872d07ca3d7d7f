import { expect } from "chai";
import { type ErrorReason, RollcallError } from "../../../src/domain/errors.js";
import { show } from "./checks.js";
import { kindOf } from "./settings.js";

// What an operation did (its value or its error) and what the model predicted.

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: RollcallError };

export type Prediction<T> = { ok: true; value: T } | { ok: false; reason: ErrorReason };

export async function attempt<T>(run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await run() };
  } catch (error) {
    // Anything but a domain error (a store failure, a TypeError) fails the test as it is.
    if (error instanceof RollcallError) return { ok: false, error };
    throw error;
  }
}

export function accept<T>(value: T): Prediction<T> {
  return { ok: true, value };
}

export function refuse(reason: ErrorReason): { ok: false; reason: ErrorReason } {
  return { ok: false, reason };
}

export function succeeded<T>(outcome: Outcome<T>): T {
  if (!outcome.ok) expect.fail(`expected success, got ${outcome.error.reason}: ${outcome.error.message}`);
  return outcome.value;
}

export function expectRefused(outcome: Outcome<unknown>, ...reasons: ErrorReason[]): void {
  if (outcome.ok) expect.fail(`expected ${reasons.join(" or ")}, got success: ${show(outcome.value)}`);
  expect(reasons, `reason of "${outcome.error.message}"`).to.include(outcome.error.reason);
  expect(outcome.error.kind, `kind of ${outcome.error.reason}`).to.equal(kindOf[outcome.error.reason]);
}
