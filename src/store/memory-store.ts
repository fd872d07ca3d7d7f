import { indexMember, lexRange, sidOfMember } from "./lex-index.js";
import { isPresent, type ParticipantRecord, type ParticipantStatus, type RoomRecord, type RoomStatus } from "./records.js";
import { SortedStrings } from "./sorted-strings.js";
import type { CreateRoomOutcome, JoinOutcome, ParticipantQuery, RoomQuery, Store } from "./store.js";

interface RoomState {
  room: RoomRecord;
  participants: Map<string, ParticipantRecord>;
  // identity -> sid of the present participant holding it
  present: Map<string, string>;
  byStart: Map<ParticipantStatus, SortedStrings>;
  byIdentity: Map<ParticipantStatus, SortedStrings>;
}

interface AccountState {
  // unique name -> sid of the in-progress room holding it
  names: Map<string, string>;
  byCreated: Map<RoomStatus, SortedStrings>;
  byName: Map<RoomStatus, SortedStrings>;
}

// The embedded store: the same contract as the Redis store, kept in this
// process. Each method runs to completion without awaiting, which makes every
// change atomic.
export class MemoryStore implements Store {
  readonly description = "in-memory store (data is lost when the process exits)";
  private readonly rooms = new Map<string, RoomState>();
  private readonly accounts = new Map<string, AccountState>();

  async createRoom(room: RoomRecord): Promise<CreateRoomOutcome> {
    const account = this.account(room.accountSid);
    const holder = account.names.get(room.uniqueName);
    if (holder !== undefined) return { kind: "name_taken", existing: { ...this.rooms.get(holder)!.room } };
    this.rooms.set(room.sid, {
      room: { ...room },
      participants: new Map(),
      present: new Map(),
      byStart: new Map(),
      byIdentity: new Map(),
    });
    account.names.set(room.uniqueName, room.sid);
    indexRoom(account, room);
    return { kind: "created", room: { ...room } };
  }

  async getRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    return state && { ...state.room };
  }

  async findRoomByName(accountSid: string, uniqueName: string): Promise<RoomRecord | undefined> {
    const sid = this.accounts.get(accountSid)?.names.get(uniqueName);
    return sid === undefined ? undefined : this.getRoom(accountSid, sid);
  }

  async listRooms(accountSid: string, query: RoomQuery): Promise<RoomRecord[]> {
    const account = this.accounts.get(accountSid);
    if (account === undefined) return [];
    const index = query.uniqueName === undefined ? account.byCreated : account.byName;
    const members = index.get(query.status)?.range(lexRange(query, query.uniqueName), query.limit) ?? [];
    return members.map((member) => ({ ...this.rooms.get(sidOfMember(member))!.room }));
  }

  async completeRoom(accountSid: string, roomSid: string, now: number): Promise<RoomRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return undefined;
    const { room } = state;
    if (room.status === "in-progress") {
      for (const sid of [...state.present.values()]) disconnect(state, state.participants.get(sid)!, now);
      const account = this.account(accountSid);
      unindexRoom(account, room);
      room.status = "completed";
      room.endTime = Math.max(now, room.dateCreated);
      room.dateUpdated = room.endTime;
      indexRoom(account, room);
      if (account.names.get(room.uniqueName) === room.sid) account.names.delete(room.uniqueName);
    }
    return { ...room };
  }

  async join(accountSid: string, roomSid: string, sid: string, identity: string, now: number): Promise<JoinOutcome> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return { kind: "room_not_found" };
    if (state.room.status !== "in-progress") return { kind: "room_completed" };
    const previousSid = state.present.get(identity);
    const others = state.present.size - (previousSid === undefined ? 0 : 1);
    if (others >= state.room.maxParticipants) return { kind: "room_full", maxParticipants: state.room.maxParticipants };
    const displaced = previousSid === undefined ? undefined : disconnect(state, state.participants.get(previousSid)!, now);
    const participant: ParticipantRecord = {
      sid,
      roomSid,
      accountSid,
      identity,
      status: "connected",
      startTime: now,
      dateUpdated: now,
      endTime: undefined,
    };
    state.participants.set(sid, participant);
    state.present.set(identity, sid);
    indexParticipant(state, participant);
    return { kind: "joined", participant: { ...participant }, displaced: displaced && { ...displaced } };
  }

  async getParticipant(accountSid: string, roomSid: string, sid: string): Promise<ParticipantRecord | undefined> {
    const participant = this.room(accountSid, roomSid)?.participants.get(sid);
    return participant && { ...participant };
  }

  async findPresentParticipant(accountSid: string, roomSid: string, identity: string): Promise<ParticipantRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const sid = state?.present.get(identity);
    return sid === undefined ? undefined : { ...state!.participants.get(sid)! };
  }

  async disconnectParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const participant = state?.participants.get(sid);
    if (participant === undefined) return undefined;
    return { ...disconnect(state!, participant, now) };
  }

  async anonymizeParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const participant = state?.participants.get(sid);
    if (participant === undefined) return undefined;
    if (participant.identity !== sid) {
      unindexParticipant(state!, participant);
      if (state!.present.get(participant.identity) === sid) {
        state!.present.delete(participant.identity);
        state!.present.set(sid, sid);
      }
      participant.identity = sid;
      participant.dateUpdated = Math.max(now, participant.startTime);
      indexParticipant(state!, participant);
    }
    return { ...participant };
  }

  async listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery): Promise<ParticipantRecord[]> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return [];
    const index = query.identity === undefined ? state.byStart : state.byIdentity;
    const members = index.get(query.status)?.range(lexRange(query, query.identity), query.limit) ?? [];
    return members.map((member) => ({ ...state.participants.get(sidOfMember(member))! }));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {}

  private room(accountSid: string, roomSid: string): RoomState | undefined {
    const state = this.rooms.get(roomSid);
    return state?.room.accountSid === accountSid ? state : undefined;
  }

  private account(accountSid: string): AccountState {
    let account = this.accounts.get(accountSid);
    if (account === undefined) {
      account = { names: new Map(), byCreated: new Map(), byName: new Map() };
      this.accounts.set(accountSid, account);
    }
    return account;
  }
}

function disconnect(state: RoomState, participant: ParticipantRecord, now: number): ParticipantRecord {
  if (!isPresent(participant.status)) return participant;
  unindexParticipant(state, participant);
  if (state.present.get(participant.identity) === participant.sid) state.present.delete(participant.identity);
  participant.status = "disconnected";
  participant.endTime = Math.max(now, participant.startTime);
  participant.dateUpdated = participant.endTime;
  indexParticipant(state, participant);
  return participant;
}

function indexParticipant(state: RoomState, p: ParticipantRecord): void {
  setOf(state.byStart, p.status).add(indexMember(p.startTime, p.sid));
  setOf(state.byIdentity, p.status).add(indexMember(p.startTime, p.sid, p.identity));
}

function unindexParticipant(state: RoomState, p: ParticipantRecord): void {
  setOf(state.byStart, p.status).delete(indexMember(p.startTime, p.sid));
  setOf(state.byIdentity, p.status).delete(indexMember(p.startTime, p.sid, p.identity));
}

function indexRoom(account: AccountState, room: RoomRecord): void {
  setOf(account.byCreated, room.status).add(indexMember(room.dateCreated, room.sid));
  setOf(account.byName, room.status).add(indexMember(room.dateCreated, room.sid, room.uniqueName));
}

function unindexRoom(account: AccountState, room: RoomRecord): void {
  setOf(account.byCreated, room.status).delete(indexMember(room.dateCreated, room.sid));
  setOf(account.byName, room.status).delete(indexMember(room.dateCreated, room.sid, room.uniqueName));
}

function setOf<K>(sets: Map<K, SortedStrings>, key: K): SortedStrings {
  let set = sets.get(key);
  if (set === undefined) {
    set = new SortedStrings();
    sets.set(key, set);
  }
  return set;
}
