import { createHash } from "node:crypto";
import { logShards } from "../store/store.js";
import { invalid } from "../domain/errors.js";

// A Watch cursor is opaque to clients: the account it belongs to, the room
// watched (or every room of the account), and the position in each log read:
// the room's log, or each shard of the account's log. A short digest catches
// cursors that were cut or altered.
export interface EventCursor {
  accountSid: string;
  // undefined for an account-wide watch.
  roomSid?: string | undefined;
  // One log position for a room; one per shard for an account.
  logIds: string[];
}

const version = "w1";
const cursorForm = /^w1\.(AC[0-9a-f]{32})\.(RM[0-9a-f]{32}|\*)\.((?:\d{1,16}-\d{1,20},?)+)\.([0-9a-f]{8})$/;

export function encodeEventCursor({ accountSid, roomSid, logIds }: EventCursor): string {
  const body = `${version}.${accountSid}.${roomSid ?? "*"}.${logIds.join(",")}`;
  return Buffer.from(`${body}.${digest(body)}`).toString("base64url");
}

// The position a cursor names, checked against the caller and what is watched.
export function decodeEventCursor(cursor: string, accountSid: string, roomSid: string | undefined): EventCursor {
  const text = Buffer.from(cursor, "base64url").toString("latin1");
  const match = cursorForm.exec(text);
  if (match === null || digest(text.slice(0, text.lastIndexOf("."))) !== match[4]) {
    throw invalid("invalid_parameter", "after", "is not a cursor issued by this server");
  }
  const logIds = match[3]!.split(",");
  const watched = match[2] === "*" ? undefined : match[2];
  if (match[1] !== accountSid) throw invalid("invalid_parameter", "after", "was issued for another account");
  if (logIds.length !== (watched === undefined ? logShards : 1) || logIds.some((id) => !Number.isSafeInteger(Number(id.split("-")[0])))) {
    throw invalid("invalid_parameter", "after", "is not a cursor issued by this server");
  }
  if (watched !== roomSid) {
    throw invalid(
      "invalid_parameter",
      "after",
      watched === undefined ? "was issued for an account-wide watch, not a room" : "was issued for another room",
    );
  }
  return { accountSid, roomSid: watched, logIds };
}

function digest(body: string): string {
  return createHash("sha256").update(body).digest("hex").slice(0, 8);
}
