import type { Cursor } from "../store/store.js";
import { invalid } from "../domain/errors.js";

// A page token is opaque to clients: the position of the last record of a page
// (its ordering time, sequence and sid), the status the listing was for, so a resumed
// listing keeps its filter even if the default would now differ, and the sid
// of the room listed, if any, so a token cannot resume in another room (a
// room named by a unique name may complete and another take the name).
export interface PagePosition<Status extends string> {
  status: Status;
  cursor: Cursor;
  roomSid?: string | undefined;
}

const tokenForm = /^([a-z-]+)\.(\d{1,13})\.(\d{1,12})\.((?:RM|PA|MT)[0-9a-f]{32})(?:\.(RM[0-9a-f]{32}))?$/;

export function encodePageToken(position: PagePosition<string>): string {
  const { status, cursor, roomSid } = position;
  return Buffer.from(`${status}.${cursor.time}.${cursor.sequence}.${cursor.sid}${roomSid ? `.${roomSid}` : ""}`).toString("base64url");
}

// The position a token names, checked against the status the caller asked for
// and the room being listed.
export function decodePageToken<Status extends string>(
  token: string,
  statuses: readonly Status[],
  requested: Status | undefined,
  roomSid?: string,
): PagePosition<Status> {
  const match = tokenForm.exec(Buffer.from(token, "base64url").toString("latin1"));
  const status = match?.[1] as Status | undefined;
  if (match === null || !statuses.includes(status!))
    throw invalid("invalid_parameter", "page_token", "is not a page token issued by this server");
  if (requested !== undefined && requested !== status)
    throw invalid("invalid_parameter", "page_token", `was issued for status ${status}, not ${requested}`);
  if (match[5] !== roomSid) throw invalid("invalid_parameter", "page_token", "was issued for another room");
  return { status: status!, cursor: { time: Number(match[2]), sequence: Number(match[3]), sid: match[4]! }, roomSid };
}

// Splits records read with a limit of pageSize + 1 into one page and the
// position after it, if more records follow.
export function cutPage<T extends { sid: string; sequence: number }, Status extends string>(
  found: T[],
  pageSize: number,
  status: Status,
  timeOf: (record: T) => number,
  roomSid?: string,
): { page: T[]; next: PagePosition<Status> | undefined } {
  const page = found.slice(0, pageSize);
  const last = page.at(-1);
  const next =
    found.length > pageSize && last
      ? { status, cursor: { time: timeOf(last), sequence: last.sequence, sid: last.sid }, roomSid }
      : undefined;
  return { page, next };
}
