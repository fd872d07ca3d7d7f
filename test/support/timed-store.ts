import type { DisconnectReason, ParticipantRecord, RoomRecord } from "../../src/domain/records.js";
import type { CreateRoomOutcome, JoinOutcome, ParticipantQuery, Store } from "../../src/store/store.js";

// A wall clock that tests set: stores read it through their `now` option.
export interface TestClock {
  now: number;
}

export function testClock(start: number): TestClock & { read: () => number } {
  const clock = { now: start, read: () => clock.now };
  return clock;
}

// A store driven at times the test names: each change first sets the clock
// the store reads. The store's own clocks still never go back, so a time
// earlier than a record's last change is raised to it.
export class TimedStore {
  constructor(
    readonly store: Store,
    private readonly clock: TestClock,
  ) {}

  createRoom(room: RoomRecord): Promise<CreateRoomOutcome> {
    this.clock.now = room.dateCreated;
    return this.store.createRoom(room);
  }

  join(accountSid: string, roomSid: string, sid: string, identity: string, now: number): Promise<JoinOutcome> {
    this.clock.now = now;
    return this.store.join(accountSid, roomSid, sid, identity);
  }

  disconnectParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
    now: number,
    reason: DisconnectReason = "kicked",
  ): Promise<ParticipantRecord | undefined> {
    this.clock.now = now;
    return this.store.disconnectParticipant(accountSid, roomSid, sid, reason);
  }

  anonymizeParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined> {
    this.clock.now = now;
    return this.store.anonymizeParticipant(accountSid, roomSid, sid);
  }

  completeRoom(accountSid: string, roomSid: string, now: number): Promise<RoomRecord | undefined> {
    this.clock.now = now;
    return this.store.completeRoom(accountSid, roomSid);
  }

  async listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery): Promise<ParticipantRecord[]> {
    return (await this.store.listParticipants(accountSid, roomSid, query)).participants;
  }

  getRoom = (accountSid: string, roomSid: string) => this.store.getRoom(accountSid, roomSid);
  findRoomByName = (accountSid: string, uniqueName: string) => this.store.findRoomByName(accountSid, uniqueName);
  listRooms: Store["listRooms"] = (accountSid, query) => this.store.listRooms(accountSid, query);
  getParticipant = (accountSid: string, roomSid: string, sid: string) => this.store.getParticipant(accountSid, roomSid, sid);
  findPresentParticipant = (accountSid: string, roomSid: string, identity: string) =>
    this.store.findPresentParticipant(accountSid, roomSid, identity);
  ping = () => this.store.ping();
  close = () => this.store.close();
}
