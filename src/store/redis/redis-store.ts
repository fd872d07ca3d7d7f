import { Cluster, Redis } from "ioredis";
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

  // Connects to a Redis Cluster through host:port seeds and waits until every
  // master serving slots answers. Every key a command or script touches
  // carries one hash tag (redis-keys.ts), so nothing is ever sent across slots.
  static async connectCluster(nodes: readonly string[], options: RedisStoreOptions): Promise<RedisStore> {
    const client = new Cluster(nodes.map(hostAndPort), {
      lazyConnect: true,
      enableAutoPipelining: true,
      // Without the offline queue, calls fail at once while the cluster
      // connection is not ready (connecting, or reconnecting after every node
      // was lost) instead of queueing without bound. Redirections still work:
      // a MOVED command is resent at once, and one that meets a dead or not yet
      // ready node, CLUSTERDOWN or TRYAGAIN is resent 100 ms later with a
      // fresh slot map, 16 redirections and resends at most, so a call rides
      // out a replica's promotion instead of failing.
      enableOfflineQueue: false,
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      retryDelayOnTryAgain: 100,
      maxRedirections: 16,
      clusterRetryStrategy: (attempt) => Math.min(50 * attempt, 1000),
      redisOptions: {
        // Bounds each send to a node, including the time a command waits in
        // the queue of a node connection still connecting (ioredis always
        // keeps that queue on).
        commandTimeout: options.commandTimeoutMs,
        connectTimeout: Math.max(options.commandTimeoutMs, 1000),
      },
    });
    client.on("error", () => {
      // Failed nodes surface as failed commands; ioredis refreshes the slots and reconnects.
    });
    try {
      await client.connect();
      const store = new RedisStore(client, `Redis Cluster at ${nodes.join(",")}`);
      await store.ping();
      return store;
    } catch (error) {
      client.disconnect();
      throw new StoreUnavailableError(`cannot reach a ready Redis Cluster through ${nodes.join(",")}: ${(error as Error).message}`, { cause: error });
    }
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
    return this.guard(() => this.readRoom(accountSid, roomSid));
  }

  async findRoomByName(accountSid: string, uniqueName: string): Promise<RoomRecord | undefined> {
    return this.guard(async () => {
      const sid = await this.redis.hget(accountKeys(accountSid).names, uniqueName);
      if (sid === null) return undefined;
      const room = await this.readRoom(accountSid, sid);
      if (room?.status === "in-progress") return room;
      if (room !== undefined) await this.releaseName(room);
      return undefined;
    });
  }

  async listRooms(accountSid: string, query: RoomQuery): Promise<RoomRecord[]> {
    return this.guard(async () => {
      const keys = accountKeys(accountSid);
      const index = query.uniqueName === undefined ? keys.roomsByCreated(query.status) : keys.roomsByName(query.status);
      const range = lexRange(query, query.uniqueName);
      let min = range.min;
      const listed: RoomRecord[] = [];
      // A member whose room is not of the listed status is skipped, so read
      // on until the page is full: a short page would end the listing early.
      for (;;) {
        const wanted = query.limit - listed.length;
        const members = await this.redis.zrange(index, min, range.max, "BYLEX", "LIMIT", 0, wanted);
        const rooms = await Promise.all(members.map((member) => this.readRoom(accountSid, sidOfMember(member))));
        for (const room of rooms) {
          if (room === undefined) continue;
          if (room.status === query.status) listed.push(room);
          // Left in progress by an interrupted or still running completeRoom: finish the move.
          else if (room.status === "completed") await this.releaseName(room);
        }
        if (members.length < wanted || listed.length === query.limit) return listed;
        min = "(" + members.at(-1)!;
      }
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
    await this.guard(async () => {
      if (this.redis instanceof Cluster) await pingMasters(this.redis);
      else await this.redis.ping();
    });
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async readRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined> {
    const fields = await this.redis.hgetall(roomKeys(roomSid).room);
    return fields.account_sid === accountSid ? decodeRoom(roomSid, fields) : undefined;
  }

  private async holderOf(accountSid: string, roomSid: string): Promise<RoomRecord> {
    const room = await this.readRoom(accountSid, roomSid);
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
  //
  // On a cluster, ioredis follows MOVED and ASK itself, except in an
  // automatic pipeline whose commands were redirected with different replies
  // (several slots of one master, each redirected after a failover or a slot
  // migration): each command then fails with its own redirection and the slot
  // map is left stale. A redirected command did not run, and every operation
  // may run again from its start (its earlier steps are idempotent), so the
  // slot map is refreshed and the operation repeated, a few times at most.
  private async guard<T>(operation: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (this.redis instanceof Cluster && attempt < redirectedAttempts && isRedirection(error)) {
          await refreshSlots(this.redis);
          continue;
        }
        if (error instanceof StoreUnavailableError || !isUnavailability(error)) throw error;
        throw new StoreUnavailableError((error as Error).message, { cause: error });
      }
    }
  }
}

const redirectedAttempts = 4;

const redirections = /^(MOVED|ASK)\b/;

const transientReplies = /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|NOREPLICAS|MOVED|ASK)\b/;

function isRedirection(error: unknown): boolean {
  return error instanceof Error && error.name === "ReplyError" && redirections.test(error.message);
}

function refreshSlots(cluster: Cluster): Promise<void> {
  return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
}

// Data in Redis that the store's own writes cannot produce.
class StoreInvariantError extends Error {
  override readonly name = "StoreInvariantError";
}

function isUnavailability(error: unknown): boolean {
  if (!(error instanceof Error) || error instanceof StoreInvariantError) return false;
  if (error.name !== "ReplyError") return true;
  return transientReplies.test(error.message);
}

// Pings the master of every slot, as the client maps them: a cluster that
// lost a master cannot serve the rooms hashed to it until a replica takes over.
async function pingMasters(cluster: Cluster): Promise<void> {
  if (cluster.status !== "ready") throw new Error(`the Redis Cluster connection is ${cluster.status}`);
  const masters = new Map(cluster.nodes("master").map((node) => [`${node.options.host}:${node.options.port}`, node]));
  const owners = new Set<string>();
  for (let slot = 0; slot < 16384; slot++) {
    const owner = cluster.slots[slot]?.[0];
    if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
    owners.add(owner);
  }
  const missing = [...owners].find((owner) => !masters.has(owner));
  if (missing !== undefined) throw new Error(`the master ${missing} is not connected`);
  await Promise.all([...owners].map((owner) => masters.get(owner)!.ping()));
}

function hostAndPort(node: string): { host: string; port: number } {
  const colon = node.lastIndexOf(":");
  return { host: node.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(node.slice(colon + 1)) };
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
