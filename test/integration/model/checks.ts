import { expect } from "chai";
import { isDeepStrictEqual } from "node:util";
import type { ParticipantRecord, RoomRecord } from "../../../src/domain/records.js";

// Checks shared by the serial and the concurrent runs: orders, time windows,
// pages, and failures that say what was expected.

export function show(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? "(none)" : v));
}

export function canonical(text: string, form: RegExp): string | undefined {
  return form.test(text) ? text.slice(0, 2) + text.slice(2).toLowerCase() : undefined;
}

// Listing order: time, then the sequence of the clock that gave it (the
// room's for participants, the account's for rooms).
export function comparePositions(aTime: number, aSequence: number, bTime: number, bSequence: number): number {
  return aTime - bTime || aSequence - bSequence;
}

export const byStart = (a: ParticipantRecord, b: ParticipantRecord) => comparePositions(a.startTime, a.sequence, b.startTime, b.sequence);
export const byCreated = (a: RoomRecord, b: RoomRecord) => comparePositions(a.dateCreated, a.sequence, b.dateCreated, b.sequence);

// chai builds an assertion object for every expect, which adds up over the
// thousands of records read back after each step: these check plainly and
// go through chai only to report a failure (with its diff).
export function check(holds: boolean, message: () => string): void {
  if (!holds) expect.fail(message());
}

export function expectSame<T>(actual: T, expected: T, message: () => string): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual, message()).to.deep.equal(expected);
}

// Strictly ascending, which also rules out repeats.
export function expectStrictlyOrdered<T>(records: T[], order: (a: T, b: T) => number, what: () => string): void {
  for (let i = 1; i < records.length; i++) {
    check(
      order(records[i - 1]!, records[i]!) < 0,
      () => `${what()}: records ${i - 1} and ${i} out of order or repeated: ${show(records.slice(i - 1, i + 1))}`,
    );
  }
}

export const isPresent = (p: ParticipantRecord) => p.status !== "disconnected";

export interface TimeWindow {
  dateCreatedAfter?: number | undefined;
  dateCreatedBefore?: number | undefined;
}

export function inWindow(time: number, window: TimeWindow): boolean {
  return (
    (window.dateCreatedAfter === undefined || time >= window.dateCreatedAfter) &&
    (window.dateCreatedBefore === undefined || time < window.dateCreatedBefore)
  );
}

// The pages of one listing: every page but the last full, and all of them in
// strictly ascending order of (time, sid), so nothing repeats.
export function checkPages<R extends { sid: string; sequence: number }>(pages: R[][], sizes: number[], timeOf: (record: R) => number): R[] {
  pages.forEach((page, i) => {
    const size = sizes[i % sizes.length]!;
    if (i < pages.length - 1) check(page.length === size, () => `page ${i} of ${size} holds ${page.length}, with more to follow`);
    else check(page.length <= size, () => `last page ${i} of ${size} holds ${page.length}`);
  });
  const listed = pages.flat();
  expectStrictlyOrdered(
    listed,
    (a, b) => comparePositions(timeOf(a), a.sequence, timeOf(b), b.sequence),
    () => "pages",
  );
  return listed;
}
