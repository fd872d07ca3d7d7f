import { Redis, type Cluster } from "ioredis";
import { decodeTime, encodeTime, lexRange, sidOfMember } from "./lex-index.js";
import type { ParticipantRecord, ParticipantStatus, RoomRecord, RoomStatus } from "./records.js";
import { accountKeys, roomKeys } from "./redis-keys.js";
import { scripts } from "./redis-scripts.js";
import { StoreUnavailableError, type CreateRoomOutcome, type JoinOutcome, type ParticipantQuery, type RoomQuery, type Store } from "./store.js";

// A participant as the Lua scripts return it: sid, identity, status,
// start_time, date_updated, end_time ('' while present).
type ParticipantReply = [string, string, string, string, string, string];

type ScriptCommands = {
  [Name in keyof typeof scripts]: (...args: string[]) => Promise<unknown>;
};

export interface RedisStoreOptions {
  // Bound on each command; a command that does not answer in time fails as unavailable.
  commandTimeoutMs: number;
}

// The production store: rooms and participants in Redis hashes, listings in
// sorted sets, every multi-key change one Lua script. docs/ARCHITECTURE.md
// draws the keys.
export class RedisStore implements Store {
  readonly description: string;
  private readonly redis: (Redis | Cluster) & ScriptCommands;

  private constructor(client: Redis | Cluster, description: string) {
    for (const [name, definition] of Object.entries(scripts)) client.defineCommand(name, definition);
    this.redis = client as (Redis | Cluster) & ScriptCommands;
    this.description = description;
  }

  // Connects to a single Redis server and waits until it answers.
  static async connect(url: string, options: RedisStoreOptions): Promise<RedisStore> {
    const client = new Redis(url, {
      lazyConnect: true,
      enableAutoPipelining: true,
      // Fail fast while disconnected instead of queueing without bound.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      retryStrategy: (attempt) => Math.min(50 * attempt, 1000),
    });
    client.on("error", () => {
      // Connection errors surface as failed commands; ioredis keeps reconnecting.
    });
    await client.connect();
    return new RedisStore(client, `Redis at ${redactUrl(url)}`);
  }

  async createRoom(room: RoomRecord): Promise<CreateRoomOutcome> {
    return this.guard(async () => {
      // The room's hash is written first: it is unreachable until its name is
      // claimed in the account's directory, and it is removed if the claim fails.
      const keys = roomKeys(room.sid);
      await this.redis.hset(keys.room, encodeRoom(room));
      let holder = await this.claimName(room);
      if (holder !== null) {
        const existing = await this.holderOf(room.accountSid, holder);
        if (existing.status === "in-progress") {
          await this.redis.del(keys.room);
          return { kind: "name_taken", existing };
        }
        // The holder completed but the process stopped before completeRoom
        // released its name: finish that, then claim again.
        await this.releaseName(existing);
        holder = await this.claimName(room);
        if (holder !== null) {
          await this.redis.del(keys.room);
          return { kind: "name_taken", existing: await this.holderOf(room.accountSid, holder) };
        }
      }
      return { kind: "created", room };
    });
  }

  async getRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined> {
    return this.guard(async () => {
      const fields = await this.redis.hgetall(roomKeys(roomSid).room);
      return fields.account_sid === accountSid ? decodeRoom(roomSid, fields) : undefined;
    });
  }

  async findRoomByName(accountSid: string, uniqueName: string): Promise<RoomRecord | undefined> {
    return this.guard(async () => {
      const sid = await this.redis.hget(accountKeys(accountSid).names, uniqueName);
      if (sid === null) return undefined;
      const room = await this.getRoom(accountSid, sid);
      if (room?.status === "in-progress") return room;
      if (room !== undefined) await this.releaseName(room);
      return undefined;
    });
  }

  async listRooms(accountSid: string, query: RoomQuery): Promise<RoomRecord[]> {
    return this.guard(async () => {
      const keys = accountKeys(accountSid);
      const index = query.uniqueName === undefined ? keys.roomsByCreated(query.status) : keys.roomsByName(query.status);
      const { min, max } = lexRange(query, query.uniqueName);
      const members = await this.redis.zrange(index, min, max, "BYLEX", "LIMIT", 0, query.limit);
      const rooms = await Promise.all(members.map((member) => this.getRoom(accountSid, sidOfMember(member))));
      const listed: RoomRecord[] = [];
      for (const room of rooms) {
        if (room === undefined) continue;
        if (room.status === query.status) listed.push(room);
        // Left in progress by an interrupted completeRoom: finish the move.
        else if (room.status === "completed") await this.releaseName(room);
      }
      return listed;
    });
  }

  async completeRoom(accountSid: string, roomSid: string, now: number): Promise<RoomRecord | undefined> {
    return this.guard(async () => {
      const keys = roomKeys(roomSid);
      const reply = (await this.redis.rcCompleteRoom(keys.room, keys.present, accountSid, encodeTime(now))) as string[] | null;
      if (reply === null) return undefined;
      const room = decodeRoom(roomSid, pairsToObject(reply));
      if (room.status === "completed") await this.releaseName(room);
      return room;
    });
  }

  async join(accountSid: string, roomSid: string, sid: string, identity: string, now: number): Promise<JoinOutcome> {
    return this.guard(async () => {
      const keys = roomKeys(roomSid);
      const reply = (await this.redis.rcJoin(keys.room, keys.present, accountSid, sid, identity, encodeTime(now))) as [string, ...unknown[]];
      switch (reply[0]) {
        case "joined":
          return {
            kind: "joined",
            participant: decodeParticipant(roomSid, accountSid, reply[1] as ParticipantReply),
            displaced: reply[2] ? decodeParticipant(roomSid, accountSid, reply[2] as ParticipantReply) : undefined,
          };
        case "room_full":
          return { kind: "room_full", maxParticipants: Number(reply[1]) };
        case "room_completed":
          return { kind: "room_completed" };
        default:
          return { kind: "room_not_found" };
      }
    });
  }

  async getParticipant(accountSid: string, roomSid: string, sid: string): Promise<ParticipantRecord | undefined> {
    return this.guard(async () => {
      const [account, identity, status, start, updated, end] = await this.redis.hmget(
        roomKeys(roomSid).participant(sid),
        "account_sid",
        "identity",
        "status",
        "start_time",
        "date_updated",
        "end_time",
      );
      if (account !== accountSid) return undefined;
      return decodeParticipant(roomSid, accountSid, [sid, identity!, status!, start!, updated!, end ?? ""]);
    });
  }

  async findPresentParticipant(accountSid: string, roomSid: string, identity: string): Promise<ParticipantRecord | undefined> {
    return this.guard(async () => {
      const keys = roomKeys(roomSid);
      const reply = (await this.redis.rcFindPresentParticipant(keys.room, keys.present, accountSid, identity)) as ParticipantReply | null;
      return reply === null ? undefined : decodeParticipant(roomSid, accountSid, reply);
    });
  }

  async disconnectParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined> {
    return this.guard(async () => {
      const reply = (await this.redis.rcDisconnectParticipant(roomKeys(roomSid).room, accountSid, sid, encodeTime(now))) as ParticipantReply | null;
      return reply === null ? undefined : decodeParticipant(roomSid, accountSid, reply);
    });
  }

  async anonymizeParticipant(accountSid: string, roomSid: string, sid: string, now: number): Promise<ParticipantRecord | undefined> {
    return this.guard(async () => {
      const reply = (await this.redis.rcAnonymizeParticipant(roomKeys(roomSid).room, accountSid, sid, encodeTime(now))) as ParticipantReply | null;
      return reply === null ? undefined : decodeParticipant(roomSid, accountSid, reply);
    });
  }

  async listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery): Promise<ParticipantRecord[]> {
    return this.guard(async () => {
      const keys = roomKeys(roomSid);
      const index = query.identity === undefined ? keys.byStart(query.status) : keys.byIdentity(query.status);
      const { min, max } = lexRange(query, query.identity);
      const replies = (await this.redis.rcListParticipants(keys.room, index, accountSid, min, max, String(query.limit))) as ParticipantReply[];
      return replies.map((reply) => decodeParticipant(roomSid, accountSid, reply));
    });
  }

  async ping(): Promise<void> {
    await this.guard(() => this.redis.ping());
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async holderOf(accountSid: string, roomSid: string): Promise<RoomRecord> {
    const room = await this.getRoom(accountSid, roomSid);
    if (room === undefined) throw new StoreInvariantError(`the room directory of ${accountSid} names ${roomSid}, which does not exist`);
    return room;
  }

  private async claimName(room: RoomRecord): Promise<string | null> {
    const keys = accountKeys(room.accountSid);
    return (await this.redis.rcClaimRoomName(
      keys.names,
      keys.roomsByCreated("in-progress"),
      keys.roomsByName("in-progress"),
      room.uniqueName,
      room.sid,
      encodeTime(room.dateCreated),
    )) as string | null;
  }

  private async releaseName(room: RoomRecord): Promise<void> {
    const keys = accountKeys(room.accountSid);
    await this.redis.rcReleaseRoomName(
      keys.names,
      keys.roomsByCreated("in-progress"),
      keys.roomsByCreated("completed"),
      keys.roomsByName("in-progress"),
      keys.roomsByName("completed"),
      room.uniqueName,
      room.sid,
      encodeTime(room.dateCreated),
    );
  }

  // Redis failures (no connection, a timeout, a transient reply such as
  // LOADING) reach callers as StoreUnavailableError; replies that signal a bug
  // (a script error, a wrong type) and broken invariants stay as they are.
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof StoreUnavailableError || !isUnavailability(error)) throw error;
      throw new StoreUnavailableError((error as Error).message, { cause: error });
    }
  }
}

const transientReplies = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS)\b/;

// Data in Redis that the store's own writes cannot produce.
class StoreInvariantError extends Error {
  override readonly name = "StoreInvariantError";
}

function isUnavailability(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof StoreInvariantError) return false;
  if (error.name !== "ReplyError") return true;
  return transientReplies.test(error.message);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== "") parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable REDIS_URL)";
  }
}

function pairsToObject(pairs: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) fields[pairs[i]!] = pairs[i + 1]!;
  return fields;
}

function decodeParticipant(roomSid: string, accountSid: string, [sid, identity, status, start, updated, end]: ParticipantReply): ParticipantRecord {
  return {
    sid,
    roomSid,
    accountSid,
    identity,
    status: status as ParticipantStatus,
    startTime: decodeTime(start),
    dateUpdated: decodeTime(updated),
    endTime: end === "" ? undefined : decodeTime(end),
  };
}

function encodeRoom(room: RoomRecord): Record<string, string> {
  const fields: Record<string, string> = {
    account_sid: room.accountSid,
    unique_name: room.uniqueName,
    status: room.status,
    type: room.type,
    max_participants: String(room.maxParticipants),
    max_participant_duration: String(room.maxParticipantDuration),
    empty_room_timeout: String(room.emptyRoomTimeout),
    unused_room_timeout: String(room.unusedRoomTimeout),
    status_callback: room.statusCallback,
    status_callback_method: room.statusCallbackMethod,
    date_created: encodeTime(room.dateCreated),
    date_updated: encodeTime(room.dateUpdated),
  };
  if (room.endTime !== undefined) fields.end_time = encodeTime(room.endTime);
  return fields;
}

function decodeRoom(sid: string, f: Record<string, string>): RoomRecord {
  return {
    sid,
    accountSid: f.account_sid!,
    uniqueName: f.unique_name!,
    status: f.status as RoomStatus,
    type: f.type!,
    maxParticipants: Number(f.max_participants),
    maxParticipantDuration: Number(f.max_participant_duration),
    emptyRoomTimeout: Number(f.empty_room_timeout),
    unusedRoomTimeout: Number(f.unused_room_timeout),
    statusCallback: f.status_callback!,
    statusCallbackMethod: f.status_callback_method!,
    dateCreated: decodeTime(f.date_created!),
    dateUpdated: decodeTime(f.date_updated!),
    endTime: f.end_time === undefined ? undefined : decodeTime(f.end_time),
  };
}
