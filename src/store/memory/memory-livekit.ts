import type { LiveKitRoomChange, LiveKitRoomState } from "../store.js";

interface Expiring<T> {
  value: T;
  expiresAt: number;
}

// The LiveKit bridge's memory (see LiveKitStore), for the memory store: one
// claim set, room states and the followed-room index per account, the
// bridge's log cursors. Expiry is checked when read.
export class MemoryLiveKit {
  private readonly claims = new Map<string, number>();
  private readonly rooms = new Map<string, Expiring<LiveKitRoomState>>();
  private readonly followed = new Map<string, Map<string, string>>();
  private readonly cursors = new Map<string, string>();

  constructor(private readonly now: () => number) {}

  claim(accountSid: string, key: string, ttlMs: number): boolean {
    const id = `${accountSid}:${key}`;
    const now = this.now();
    const until = this.claims.get(id);
    if (until !== undefined && until > now) return false;
    this.claims.set(id, now + ttlMs);
    if (this.claims.size % 1024 === 0) this.sweepClaims(now);
    return true;
  }

  release(accountSid: string, key: string): void {
    this.claims.delete(`${accountSid}:${key}`);
  }

  get(accountSid: string, liveKitRoomSid: string): LiveKitRoomState | undefined {
    const held = this.rooms.get(`${accountSid}:${liveKitRoomSid}`);
    if (held === undefined || held.expiresAt <= this.now()) return undefined;
    return { ...held.value, participants: new Map(held.value.participants) };
  }

  update(accountSid: string, liveKitRoomSid: string, change: LiveKitRoomChange, ttlMs: number): void {
    const state = this.get(accountSid, liveKitRoomSid) ?? { roomSid: undefined, finished: false, participants: new Map<string, string>() };
    const index = this.index(accountSid);
    const byRoom = this.index(`${accountSid}:by-room`);
    if (change.roomSid !== undefined && change.roomSid !== state.roomSid) {
      if (state.roomSid !== undefined) byRoom.delete(state.roomSid);
      state.roomSid = change.roomSid;
    }
    if (change.finished) state.finished = true;
    for (const [sid, roomSid] of Object.entries(change.participants ?? {})) state.participants.set(sid, roomSid);
    if (state.roomSid !== undefined && !state.finished) {
      index.set(liveKitRoomSid, state.roomSid);
      byRoom.set(state.roomSid, liveKitRoomSid);
    } else {
      index.delete(liveKitRoomSid);
      if (state.roomSid !== undefined) byRoom.delete(state.roomSid);
    }
    this.rooms.set(`${accountSid}:${liveKitRoomSid}`, { value: state, expiresAt: this.now() + ttlMs });
  }

  followedRooms(accountSid: string): Map<string, string> {
    return new Map(this.index(accountSid));
  }

  roomOf(accountSid: string, roomSid: string): string | undefined {
    return this.index(`${accountSid}:by-room`).get(roomSid);
  }

  cursor(accountSid: string, shard: number): string | undefined {
    return this.cursors.get(`${accountSid}:${shard}`);
  }

  setCursor(accountSid: string, shard: number, id: string): void {
    this.cursors.set(`${accountSid}:${shard}`, id);
  }

  private index(key: string): Map<string, string> {
    let index = this.followed.get(key);
    if (index === undefined) this.followed.set(key, (index = new Map<string, string>()));
    return index;
  }

  private sweepClaims(now: number): void {
    for (const [id, until] of this.claims) if (until <= now) this.claims.delete(id);
  }
}
