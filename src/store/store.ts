import type { ParticipantRecord, ParticipantStatus, RoomRecord, RoomStatus } from "./records.js";

// A position in a listing: the time a record is ordered by, then its sid.
export interface Cursor {
  time: number;
  sid: string;
}

interface PageQuery {
  // Records ordered at or after this time.
  after?: number | undefined;
  // Records ordered before this time.
  before?: number | undefined;
  // Resume after this position.
  cursor?: Cursor | undefined;
  limit: number;
}

export interface ParticipantQuery extends PageQuery {
  status: ParticipantStatus;
  identity?: string | undefined;
}

export interface RoomQuery extends PageQuery {
  status: RoomStatus;
  uniqueName?: string | undefined;
}

export type JoinOutcome =
  | { kind: "joined"; participant: ParticipantRecord; displaced: ParticipantRecord | undefined }
  | { kind: "room_not_found" }
  | { kind: "room_completed" }
  | { kind: "room_full"; maxParticipants: number };

export type CreateRoomOutcome =
  | { kind: "created"; room: RoomRecord }
  | { kind: "name_taken"; existing: RoomRecord };

// Store keeps rooms and participants. Every method is scoped to one account:
// a room of another account is reported exactly like a missing one. Every
// change is atomic; the contract suite in test/store-contract.test.ts defines
// the behaviour both implementations share.
export interface Store {
  readonly description: string;

  // Stores a new in-progress room unless another in-progress room of the
  // account holds its unique name.
  createRoom(room: RoomRecord): Promise<CreateRoomOutcome>;
  getRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined>;
  // The in-progress room holding this unique name.
  findRoomByName(accountSid: string, uniqueName: string): Promise<RoomRecord | undefined>;
  listRooms(accountSid: string, query: RoomQuery): Promise<RoomRecord[]>;
  // Marks the room completed, disconnects its present participants and frees
  // its unique name. A room that is no longer in progress comes back unchanged.
  completeRoom(accountSid: string, roomSid: string, now: number): Promise<RoomRecord | undefined>;

  // Adds a connected participant to an in-progress room with room to spare,
  // disconnecting the present participant of the same identity, if any.
  join(accountSid: string, roomSid: string, sid: string, identity: string, now: number): Promise<JoinOutcome>;
  getParticipant(accountSid: string, roomSid: string, sid: string): Promise<ParticipantRecord | undefined>;
  findPresentParticipant(accountSid: string, roomSid: string, identity: string): Promise<ParticipantRecord | undefined>;
  // Disconnects a present participant; a disconnected one comes back unchanged.
  disconnectParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined>;
  // Replaces a participant's identity with its sid, whatever its status.
  anonymizeParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined>;
  // Participants of one status in (start time, sid) order.
  listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery): Promise<ParticipantRecord[]>;

  // Resolves when the store answers; rejects with an unavailable error otherwise.
  ping(): Promise<void>;
  close(): Promise<void>;
}

// The store cannot be reached or did not answer in time.
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}
