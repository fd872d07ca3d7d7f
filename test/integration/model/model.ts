import type { ParticipantRecord, RoomRecord } from "../../../src/domain/records.js";
import { isPresent } from "./checks.js";
import type { Prediction } from "./outcomes.js";

// The model of the serial part: rooms and participants as plain records, and
// the listings walked a page at a time.

export interface ModelRoom {
  record: RoomRecord;
  // The length of the room's log.
  events: number;
  // In join order, so that a random pick does not depend on random sids.
  participants: ParticipantRecord[];
}

export class Model {
  private readonly bySid = new Map<string, ModelRoom>();
  private readonly byAccount = new Map<string, ModelRoom[]>();
  readonly participantSids = new Set<string>();
  private readonly roomsCreated = new Map<string, number>();

  // The sequence of an account's next room.
  countRoom(account: string): number {
    const count = (this.roomsCreated.get(account) ?? 0) + 1;
    this.roomsCreated.set(account, count);
    return count;
  }

  add(record: RoomRecord): ModelRoom {
    // Its log starts with its creation.
    const room = { record, participants: [], events: 1 };
    this.bySid.set(record.sid, room);
    const rooms = this.byAccount.get(record.accountSid) ?? [];
    rooms.push(room);
    this.byAccount.set(record.accountSid, rooms);
    return room;
  }

  has(sid: string): boolean {
    return this.bySid.has(sid);
  }

  get(sid: string): ModelRoom {
    return this.bySid.get(sid)!;
  }

  // A room as the account sees it: another account's room is missing.
  room(account: string, sid: string): ModelRoom | undefined {
    const room = this.bySid.get(sid);
    return room?.record.accountSid === account ? room : undefined;
  }

  roomsOf(account: string): ModelRoom[] {
    return this.byAccount.get(account) ?? [];
  }

  all(): ModelRoom[] {
    return [...this.bySid.values()];
  }

  named(account: string, name: string): ModelRoom | undefined {
    return this.roomsOf(account).find((r) => r.record.status === "in-progress" && r.record.uniqueName === name);
  }
}

export function presentWith(room: ModelRoom, identity: string): ParticipantRecord | undefined {
  return room.participants.find((p) => isPresent(p) && p.identity === identity);
}

export function disconnectAt(p: ParticipantRecord, now: number): void {
  if (!isPresent(p)) return;
  p.status = "disconnected";
  p.endTime = Math.max(now, p.startTime);
  p.dateUpdated = p.endTime;
}

// One listing walked a page at a time; a walk may pause between steps while
// other operations change what it lists.
export interface Walk {
  label: string;
  // The sids listed so far, and, from its first page, all the sids the model
  // expected the whole listing to hold at that moment.
  listed: string[];
  expected: string[] | undefined;
  next(): Promise<"more" | "done" | "refused">;
}

export interface Listing<R extends { sid: string }, S extends string> {
  label: string;
  statuses: readonly S[];
  // The status asked for on the first page.
  status: S | undefined;
  fetch(input: {
    status: S | undefined;
    pageSize: number | undefined;
    pageToken: string | undefined;
  }): Promise<{ records: R[]; token: string }>;
  // Everything the listing names now, in order, once its status is settled.
  expected(status: S | undefined): Prediction<{ status: S; records: R[] }>;
  timeOf(record: R): number;
}
