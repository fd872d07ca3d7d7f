// Listings are sorted sets of strings ordered byte by byte (Redis ZRANGE BYLEX,
// and the same order in the memory store). A member is the fixed-width time a
// record is ordered by, the fixed-width sequence number that breaks ties within
// one clock (a room's for participants, an account's for rooms), and the
// record's sid, optionally behind a name prefix. One range query gives "by
// time, then sequence", and a cursor is simply the last member seen: a page
// costs O(log N + page size) however large the set is.
import type { Cursor } from "./store.js";

const timeWidth = 13;
const maxTime = 10 ** timeWidth - 1;
export const sequenceWidth = 12;
const maxSequence = 10 ** sequenceWidth - 1;
export const sidLength = 34;
// Names and identities never contain control characters (operations reject
// them), so these two bytes delimit a name prefix unambiguously.
export const nameEnd = "\u0000";
const afterNameEnd = "\u0001";

// Milliseconds as 13 zero-padded digits, so string order is time order.
export function encodeTime(ms: number): string {
  return String(Math.min(Math.max(Math.trunc(ms), 0), maxTime)).padStart(timeWidth, "0");
}

export function decodeTime(text: string): number {
  return Number(text);
}

export function encodeSequence(sequence: number): string {
  return String(Math.min(Math.max(Math.trunc(sequence), 0), maxSequence)).padStart(sequenceWidth, "0");
}

export function indexMember(time: number, sequence: number, sid: string, name?: string): string {
  const member = encodeTime(time) + encodeSequence(sequence) + sid;
  return name === undefined ? member : name + nameEnd + member;
}

export function sidOfMember(member: string): string {
  return member.slice(-sidLength);
}

// Bounds in ZRANGE BYLEX syntax: "-" and "+" are the ends, "[" includes, "(" excludes.
export interface LexRange {
  min: string;
  max: string;
}

export function lexRange(
  query: { after?: number | undefined; before?: number | undefined; cursor?: Cursor | undefined },
  name?: string,
): LexRange {
  const prefix = name === undefined ? "" : name + nameEnd;
  let min = prefix === "" ? "-" : "[" + prefix;
  if (query.after !== undefined) min = "[" + prefix + encodeTime(query.after);
  if (query.cursor !== undefined) {
    const resume = prefix + encodeTime(query.cursor.time) + encodeSequence(query.cursor.sequence) + query.cursor.sid;
    if (min === "-" || resume >= min.slice(1)) min = "(" + resume;
  }
  let max = prefix === "" ? "+" : "(" + name + afterNameEnd;
  if (query.before !== undefined && query.before <= maxTime) max = "(" + prefix + encodeTime(query.before);
  return { min, max };
}
