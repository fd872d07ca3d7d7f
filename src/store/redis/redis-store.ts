import { createHash } from "node:crypto";
import { throwIfCancelled } from "../../domain/errors.js";
import { Cluster } from "ioredis";
import { encodeSequence, encodeTime, lexRange, sidOfMember } from "../lex-index.js";
import type {
  DisconnectReason,
  ParticipantRecord,
  RoomRecord,
  SubscribeRule,
  SubscribeRules,
  SubscriptionRecord,
  TrackRecord,
} from "../../domain/records.js";
import {
  logShards,
  type CallbackBatch,
  type CallbackFailure,
  type CallbackFailureListing,
  type CreateRoomOutcome,
  type FollowOptions,
  type JoinOutcome,
  type LogBatch,
  type LogRef,
  type NewRoom,
  type ParticipantListing,
  type ParticipantQuery,
  type DueTimer,
  type RetentionLimits,
  type RoomDurationLimit,
  type RoomQuery,
  type Store,
  type TimerOutcome,
  type LiveKitRoomChange,
  type LiveKitRoomState,
  type NewTrack,
  type TrackFailure,
  type TrackOutcome,
  type TrackQuery,
} from "../store.js";
import {
  decodeEvent,
  decodeParticipant,
  decodeRoom,
  decodeRules,
  decodeSubscription,
  decodeTrack,
  participantFields,
  roomFields,
  type ParticipantReply,
  type SubscriptionReply,
  type TrackReply,
} from "./codec.js";
import {
  blockingConnection,
  connectCluster,
  connectServer,
  guarded,
  probeWrites,
  redactUrl,
  StoreInvariantError,
  type Client,
  type ConnectionOptions,
} from "./connection.js";
import { accountKeys, roomKeys, shardKeys } from "./keys.js";
import { LogFollowers, logReadOf, type CountPart } from "./log-followers.js";
import { callbackScripts } from "./callback-scripts.js";
import { scripts } from "./scripts.js";
import { refusalOf, WriteRefusals } from "./write-refusals.js";
import { storeOperation } from "../../observability/metrics.js";

type ScriptCommands = {
  [Name in keyof typeof scripts | keyof typeof callbackScripts]: (...args: string[]) => Promise<unknown>;
};

export interface RedisStoreOptions extends ConnectionOptions, RetentionLimits, RoomDurationLimit {
  // The wall clock of changes; Redis' own clock (TIME) when unset, one clock
  // for every instance. Each room's and account's clock never goes back from
  // what it last read.
  now?: () => number;
}

// Each shard keeps about this many dead letters (the count of all is kept).
const failuresKept = 1000;

// A room creation's claim of its name: the room it created, or the sid of
// the room holding the name.
type Claim = { kind: "created"; room: RoomRecord } | { kind: "taken"; holder: string };

// A blocking log read waits this long in Redis before it is sent again.
const blockMs = 5000;

// The production store: rooms and participants in Redis hashes, listings in
// sorted sets, the change log in streams, every change one Lua script.
// docs/ARCHITECTURE.md draws the keys.
export class RedisStore implements Store {
  private readonly redis: Client & ScriptCommands;
  private readonly followers: LogFollowers;
  private readonly refusals: WriteRefusals;

  private constructor(
    client: Client,
    readonly description: string,
    private readonly options: RedisStoreOptions,
  ) {
    for (const [name, definition] of Object.entries({ ...scripts, ...callbackScripts })) client.defineCommand(name, definition);
    this.redis = client as Client & ScriptCommands;
    this.refusals = new WriteRefusals(options.log, () => this.ping());
    this.followers = new LogFollowers(
      () => blockingConnection(client, blockMs, options.commandTimeoutMs),
      (key, countPart, after, limit) => this.readLog(key, countPart, after, limit),
      { blockMs, windowSize: 10_000, readBatch: 500 },
    );
  }

  static async connect(url: string, options: RedisStoreOptions): Promise<RedisStore> {
    return new RedisStore(await connectServer(url, options), `Redis at ${redactUrl(url)}`, options).probed();
  }

  // Every key a command or script touches carries one hash tag (keys.ts), so
  // nothing is ever sent across slots.
  static async connectCluster(nodes: readonly string[], options: RedisStoreOptions): Promise<RedisStore> {
    return new RedisStore(await connectCluster(nodes, options), `Redis Cluster at ${nodes.join(",")}`, options).probed();
  }

  // Probes once at the start, without waiting, so that a refusal from the
  // first moment (REDIS_URL naming a replica) is logged before any call.
  private probed(): this {
    this.ping().catch(() => undefined);
    return this;
  }

  // On one server the name's claim and the room's record are written by one
  // script (claimAndWriteRoom), so a failure leaves nothing behind. On a
  // cluster the account's slot and the room's may be on different masters
  // (claimThenWriteRoom): the name is claimed first, which also gives the
  // room its creation time and sequence from the account's clock and keeps
  // the record as pending; then the room's slot writes the record and its
  // room-created event. A refused write takes the claim back; if the creator
  // stops in between, whoever meets a claimed name whose record is still
  // pending writes it, so a claimed room always comes into being.
  async createRoom(input: NewRoom, signal?: AbortSignal): Promise<CreateRoomOutcome> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      for (let attempt = 1; ; attempt++) {
        const claim = this.redis instanceof Cluster ? await this.claimThenWriteRoom(input) : await this.claimAndWriteRoom(input);
        if (claim.kind === "created") return claim;
        const existing = await this.readNamedRoom(input.accountSid, claim.holder);
        if (existing.status === "in-progress" || attempt === 2) return { kind: "name_taken", existing };
        // The holder completed but the process stopped before completeRoom
        // released its name: finish that, then claim again.
        await this.releaseName(existing);
      }
    });
  }

  async getRoom(accountSid: string, roomSid: string, signal?: AbortSignal): Promise<RoomRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(() => this.readRoom(accountSid, roomSid));
  }

  async findRoomByName(accountSid: string, uniqueName: string, signal?: AbortSignal): Promise<RoomRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const sid = await this.redis.hget(accountKeys(accountSid).names, uniqueName);
      if (sid === null) return undefined;
      throwIfCancelled(signal);
      const room = await this.readNamedRoom(accountSid, sid);
      if (room.status === "in-progress") return room;
      await this.releaseName(room);
      return undefined;
    });
  }

  async listRooms(accountSid: string, query: RoomQuery, signal?: AbortSignal): Promise<RoomRecord[]> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const keys = accountKeys(accountSid);
      const index = query.uniqueName === undefined ? keys.roomsByCreated(query.status) : keys.roomsByName(query.status);
      const range = lexRange(query, query.uniqueName);
      let min = range.min;
      const listed: RoomRecord[] = [];
      // A member whose room is not of the listed status is skipped, so read
      // on until the page is full: a short page would end the listing early.
      for (;;) {
        throwIfCancelled(signal);
        const wanted = query.limit - listed.length;
        const members = await this.redis.zrange(index, min, range.max, "BYLEX", "LIMIT", 0, wanted);
        const rooms = await Promise.all(members.map((member) => this.readNamedRoom(accountSid, sidOfMember(member))));
        for (const room of rooms) {
          if (room.status === query.status) listed.push(room);
          // Left in progress by an interrupted or still running completeRoom: finish the move.
          else if (room.status === "completed") await this.releaseName(room);
        }
        if (members.length < wanted || listed.length === query.limit) return listed;
        min = "(" + members.at(-1)!;
      }
    });
  }

  async completeRoom(accountSid: string, roomSid: string, signal?: AbortSignal): Promise<RoomRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const reply = (await this.roomScript("rcCompleteRoom", accountSid, roomSid)) as string[] | null;
      const room = reply === null ? undefined : decodeRoom(roomSid, reply);
      if (room?.status === "completed") await this.releaseName(room);
      return room;
    });
  }

  async join(accountSid: string, roomSid: string, sid: string, identity: string, signal?: AbortSignal): Promise<JoinOutcome> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const reply = (await this.roomScript("rcJoin", accountSid, roomSid, sid, identity)) as [string, ...unknown[]];
      switch (reply[0]) {
        case "joined":
          return {
            kind: "joined",
            participant: decodeParticipant(roomSid, reply[1] as ParticipantReply)!,
            displaced: reply[2] ? decodeParticipant(roomSid, reply[2] as ParticipantReply) : undefined,
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

  async getParticipant(accountSid: string, roomSid: string, sid: string, signal?: AbortSignal): Promise<ParticipantRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const values = await this.redis.hmget(roomKeys(accountSid, roomSid).participant(sid), ...participantFields);
      const participant = decodeParticipant(roomSid, [sid, ...values]);
      return participant?.accountSid === accountSid ? participant : undefined;
    });
  }

  async findPresentParticipant(
    accountSid: string,
    roomSid: string,
    identity: string,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord | undefined> {
    throwIfCancelled(signal);
    return this.participantScript("rcFindPresentParticipant", accountSid, roomSid, identity);
  }

  async disconnectParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
    reason: DisconnectReason,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const reply = (await this.roomScript("rcDisconnectParticipant", accountSid, roomSid, sid, reason)) as
        [ParticipantReply, string[] | null] | null;
      if (reply === null) return undefined;
      await this.releaseIfEnded(roomSid, reply[1]);
      return decodeParticipant(roomSid, reply[0]);
    });
  }

  async dueTimers(accountSid: string, shard: number, limit: number): Promise<DueTimer[]> {
    return this.guard(async () => {
      const reply = (await this.redis.rcDueTimers(shardKeys(accountSid, shard).timers, this.now(), String(limit))) as string[];
      const due: DueTimer[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) due.push({ timer: reply[i]!, due: Number(reply[i + 1]) });
      return due;
    });
  }

  async fireTimer(accountSid: string, timer: string): Promise<TimerOutcome> {
    const roomSid = timerRoom(timer);
    if (roomSid === undefined) return "stale";
    return this.guard(async () => {
      const [outcome, room] = (await this.roomScript("rcFireTimer", accountSid, roomSid, timer)) as [
        TimerOutcome,
        string[] | null | undefined,
      ];
      await this.releaseIfEnded(roomSid, room ?? null);
      return outcome;
    });
  }

  async anonymizeParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord | undefined> {
    throwIfCancelled(signal);
    return this.participantScript("rcAnonymizeParticipant", accountSid, roomSid, sid);
  }

  async listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery, signal?: AbortSignal): Promise<ParticipantListing> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const index = query.identity === undefined ? `by-start:${query.status}` : `by-identity:${query.status}`;
      const { min, max } = lexRange(query, query.identity);
      const [logId, ...replies] = (await this.roomScript(
        "rcListParticipants",
        accountSid,
        roomSid,
        index,
        min,
        max,
        String(query.limit),
      )) as [string, ...ParticipantReply[]];
      return { participants: replies.map((reply) => decodeParticipant(roomSid, reply)!), logId };
    });
  }

  async publishTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    track: NewTrack,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>> {
    throwIfCancelled(signal);
    const args = [participantSid, track.sid, track.name, track.kind, track.enabled ? "1" : "0"];
    return this.trackChange("rcPublishTrack", accountSid, roomSid, args, (reply: TrackReply) => decodeTrack(roomSid, reply)!);
  }

  async setTrackEnabled(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
    enabled: boolean,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>> {
    throwIfCancelled(signal);
    const args = [participantSid, trackSid, enabled ? "1" : "0"];
    return this.trackChange("rcSetTrackEnabled", accountSid, roomSid, args, (reply: TrackReply) => decodeTrack(roomSid, reply)!);
  }

  async unpublishTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>> {
    throwIfCancelled(signal);
    return this.trackChange("rcUnpublishTrack", accountSid, roomSid, [participantSid, trackSid], (reply: TrackReply) =>
      decodeTrack(roomSid, reply)!,
    );
  }

  async subscribe(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscriptionRecord>> {
    throwIfCancelled(signal);
    return this.trackChange("rcSubscribe", accountSid, roomSid, [subscriberSid, trackSid], (reply: SubscriptionReply) =>
      decodeSubscription(roomSid, reply),
    );
  }

  async unsubscribe(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscriptionRecord>> {
    throwIfCancelled(signal);
    return this.trackChange("rcUnsubscribe", accountSid, roomSid, [subscriberSid, trackSid], (reply: SubscriptionReply) =>
      decodeSubscription(roomSid, reply),
    );
  }

  async getPublishedTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    by: { sid: string } | { name: string },
    signal?: AbortSignal,
  ): Promise<TrackRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const args = "sid" in by ? [participantSid, by.sid, ""] : [participantSid, "", by.name];
      const reply = (await this.roomScript("rcGetPublishedTrack", accountSid, roomSid, ...args)) as TrackReply | null;
      return reply === null ? undefined : decodeTrack(roomSid, reply);
    });
  }

  async getSubscription(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const reply = (await this.roomScript("rcGetSubscription", accountSid, roomSid, subscriberSid, trackSid)) as SubscriptionReply | null;
      return reply === null ? undefined : decodeSubscription(roomSid, reply);
    });
  }

  async listPublishedTracks(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    query: TrackQuery,
    signal?: AbortSignal,
  ): Promise<TrackRecord[]> {
    throwIfCancelled(signal);
    const replies = (await this.listTrackIndex(accountSid, roomSid, "tracks", participantSid, query)) as TrackReply[];
    return replies.map((reply) => decodeTrack(roomSid, reply)!);
  }

  async listSubscriptions(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    query: TrackQuery,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord[]> {
    throwIfCancelled(signal);
    const replies = (await this.listTrackIndex(accountSid, roomSid, "subscribed", subscriberSid, query)) as SubscriptionReply[];
    return replies.map((reply) => decodeSubscription(roomSid, reply));
  }

  // A page of a participant's published ("tracks") or subscribed index.
  private listTrackIndex(
    accountSid: string,
    roomSid: string,
    index: "tracks" | "subscribed",
    participantSid: string,
    query: TrackQuery,
  ): Promise<unknown> {
    const { min, max } = lexRange(query);
    return this.guard(() => this.roomScript("rcListTracks", accountSid, roomSid, index, participantSid, min, max, String(query.limit)));
  }

  async getSubscribeRules(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    signal?: AbortSignal,
  ): Promise<SubscribeRules | undefined> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const reply = (await this.roomScript("rcGetSubscribeRules", accountSid, roomSid, participantSid)) as (string | null)[] | null;
      return reply === null ? undefined : decodeRules(roomSid, participantSid, reply);
    });
  }

  async setSubscribeRules(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    rules: SubscribeRule[],
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscribeRules>> {
    throwIfCancelled(signal);
    return this.trackChange(
      "rcSetSubscribeRules",
      accountSid,
      roomSid,
      [participantSid, JSON.stringify(rules)],
      (reply: (string | null)[]) => decodeRules(roomSid, participantSid, reply),
    );
  }

  followLog(ref: LogRef, afterId: string | undefined, options: FollowOptions): AsyncIterable<LogBatch> {
    if ("roomSid" in ref) return this.followers.follow(roomKeys(ref.accountSid, ref.roomSid).log, 1, afterId, options);
    return this.followers.follow(shardKeys(ref.accountSid, ref.shard).shardLog, 2, afterId, options);
  }

  async dueCallbackRooms(accountSid: string, shard: number, now: number, limit: number): Promise<string[]> {
    return this.guard(() => this.redis.zrangebyscore(shardKeys(accountSid, shard).callbacksDue, "-inf", now, "LIMIT", 0, limit));
  }

  async readCallbacks(accountSid: string, roomSid: string, limit: number): Promise<CallbackBatch | undefined> {
    return this.guard(async () => {
      const keys = roomKeys(accountSid, roomSid);
      const reply = (await this.redis.rcReadCallbacks(keys.room, keys.log, accountSid, String(limit))) as
        [string, string, string, string, [string, string[]][]] | null;
      if (reply === null) return undefined;
      const [cursor, logSequence, attempts, failingSince, entries] = reply;
      return {
        cursor: Number(cursor),
        logSequence: Number(logSequence),
        attempts: Number(attempts),
        failingSince: failingSince === "" ? undefined : Number(failingSince),
        events: entries.map(([, fields]) => decodeEvent(fields[1]!)),
      };
    });
  }

  async advanceCallback(accountSid: string, roomSid: string, from: number, to: number, failure?: CallbackFailure): Promise<boolean> {
    return this.guard(async () => {
      const keys = roomKeys(accountSid, roomSid);
      const moved = await this.redis.rcAdvanceCallback(
        keys.room,
        keys.callbacksDue,
        keys.callbacksFailed,
        keys.shardCounter,
        accountSid,
        roomSid,
        String(from),
        String(to),
        failure === undefined ? "" : JSON.stringify(failure),
        String(Date.now()),
        String(failuresKept),
      );
      return moved === 1;
    });
  }

  async postponeCallback(accountSid: string, roomSid: string, cursor: number, dueMs: number): Promise<boolean> {
    return this.guard(async () => {
      const keys = roomKeys(accountSid, roomSid);
      const held = await this.redis.rcPostponeCallback(
        keys.room,
        keys.callbacksDue,
        accountSid,
        roomSid,
        String(cursor),
        String(Math.trunc(dueMs)),
        String(Date.now()),
      );
      return held === 1;
    });
  }

  // The dead letters of the account's 16 shards, merged newest first.
  async listCallbackFailures(accountSid: string, limit: number, signal?: AbortSignal): Promise<CallbackFailureListing> {
    throwIfCancelled(signal);
    return this.guard(async () => {
      const shards = await Promise.all(
        Array.from({ length: logShards }, async (_, shard) => {
          const keys = shardKeys(accountSid, shard);
          const [entries, count] = await Promise.all([
            this.redis.xrevrange(keys.callbacksFailed, "+", "-", "COUNT", limit),
            this.redis.hget(keys.shardCounter, "callback_failures"),
          ]);
          return { failures: entries.map(([, fields]) => JSON.parse(fields[1]!) as CallbackFailure), count: Number(count ?? 0) };
        }),
      );
      const failures = shards.flatMap((shard) => shard.failures).sort((a, b) => b.time - a.time);
      return { failures: failures.slice(0, limit), total: shards.reduce((sum, shard) => sum + shard.count, 0) };
    });
  }

  async holdCallbackLease(accountSid: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.guard(async () => (await this.redis.rcHoldLease(shardKeys(accountSid, shard).callbacksLease, owner, String(ttlMs))) === 1);
  }

  async releaseCallbackLease(accountSid: string, shard: number, owner: string): Promise<void> {
    await this.guard(() => this.redis.rcReleaseLease(shardKeys(accountSid, shard).callbacksLease, owner));
  }

  async claimLiveKitOnce(accountSid: string, key: string, ttlMs: number): Promise<boolean> {
    return this.guard(
      async () => (await this.redis.set(accountKeys(accountSid).liveKitOnce(digestOf(key)), "1", "PX", ttlMs, "NX")) === "OK",
    );
  }

  async releaseLiveKitOnce(accountSid: string, key: string): Promise<void> {
    await this.guard(() => this.redis.del(accountKeys(accountSid).liveKitOnce(digestOf(key))));
  }

  async getLiveKitRoom(accountSid: string, liveKitRoomSid: string): Promise<LiveKitRoomState | undefined> {
    const fields = await this.guard(() => this.redis.hgetall(accountKeys(accountSid).liveKitRoom(liveKitRoomSid)));
    if (Object.keys(fields).length === 0) return undefined;
    const participants = new Map<string, string>();
    for (const [field, value] of Object.entries(fields)) if (field.startsWith("p:")) participants.set(field.slice(2), value);
    return { roomSid: fields.room || undefined, finished: fields.finished === "1", participants };
  }

  async updateLiveKitRoom(accountSid: string, liveKitRoomSid: string, change: LiveKitRoomChange, ttlMs: number): Promise<void> {
    const keys = accountKeys(accountSid);
    const pairs = Object.entries(change.participants ?? {}).flat();
    await this.guard(() =>
      this.redis.rcUpdateLiveKitRoom(
        keys.liveKitRoom(liveKitRoomSid),
        keys.liveKitRooms,
        keys.liveKitByRoom,
        String(ttlMs),
        liveKitRoomSid,
        change.roomSid ?? "",
        change.finished ? "1" : "",
        ...pairs,
      ),
    );
  }

  async liveKitRooms(accountSid: string): Promise<Map<string, string>> {
    return new Map(Object.entries(await this.guard(() => this.redis.hgetall(accountKeys(accountSid).liveKitRooms))));
  }

  async liveKitRoomOf(accountSid: string, roomSid: string): Promise<string | undefined> {
    return (await this.guard(() => this.redis.hget(accountKeys(accountSid).liveKitByRoom, roomSid))) ?? undefined;
  }

  async liveKitCursor(accountSid: string, shard: number): Promise<string | undefined> {
    return (await this.guard(() => this.redis.get(shardKeys(accountSid, shard).liveKitCursor))) ?? undefined;
  }

  async setLiveKitCursor(accountSid: string, shard: number, id: string): Promise<void> {
    await this.guard(() => this.redis.set(shardKeys(accountSid, shard).liveKitCursor, id));
  }

  async holdLiveKitLease(accountSid: string, shard: number, owner: string, ttlMs: number): Promise<boolean> {
    return this.guard(async () => (await this.redis.rcHoldLease(shardKeys(accountSid, shard).liveKitLease, owner, String(ttlMs))) === 1);
  }

  async releaseLiveKitLease(accountSid: string, shard: number, owner: string): Promise<void> {
    await this.guard(() => this.redis.rcReleaseLease(shardKeys(accountSid, shard).liveKitLease, owner));
  }

  // Ready means Redis answers and would accept a write: a refusal (out of
  // memory, read-only replica, ...) fails the ping with its cause.
  async ping(): Promise<void> {
    await this.guard(() => probeWrites(this.redis));
    this.refusals.accepted();
  }

  async close(): Promise<void> {
    this.refusals.close();
    this.followers.close();
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  // The time a script is to use: '' for Redis' own clock.
  private now(): string {
    return this.options.now === undefined ? "" : String(Math.trunc(this.options.now()));
  }

  private guard<T>(operation: () => Promise<T>): Promise<T> {
    const policy = { timeoutMs: this.options.commandTimeoutMs, refusals: this.refusals };
    if (!this.options.timeOperations) return guarded(this.redis, policy, operation);
    const started = performance.now();
    return guarded(this.redis, policy, operation).finally(() => storeOperation.observe((performance.now() - started) / 1000));
  }

  private async readLog(key: string, countPart: CountPart, after: string | undefined, limit: number) {
    return logReadOf((await this.guard(() => this.redis.rcReadLog(key, String(countPart), after ?? "", String(limit)))) as unknown[]);
  }

  // Runs a room-slot script (scripts.ts) with the keys and arguments every
  // one of them takes, then its own.
  private roomScript(name: keyof typeof scripts, accountSid: string, roomSid: string, ...args: string[]): Promise<unknown> {
    return this.roomScriptWithKeys(name, accountSid, roomSid, [], ...args);
  }

  // The same, for a script that takes more keys after the room's.
  private roomScriptWithKeys(
    name: keyof typeof scripts,
    accountSid: string,
    roomSid: string,
    moreKeys: string[],
    ...args: string[]
  ): Promise<unknown> {
    const keys = roomKeys(accountSid, roomSid);
    const { retentionMs, retentionPerRoom } = this.options;
    const common = [keys.prefix, roomSid, String(retentionMs), String(retentionPerRoom), accountSid, this.now()];
    return this.redis[name](
      keys.room,
      keys.log,
      keys.shardLog,
      keys.shardCounter,
      keys.callbacksDue,
      keys.timers,
      ...moreKeys,
      ...common,
      ...args,
    );
  }

  // A track script's answer: {'ok', value} or {why not}.
  private trackChange<R, T>(
    name: keyof typeof scripts,
    accountSid: string,
    roomSid: string,
    args: string[],
    decode: (reply: R) => T,
  ): Promise<TrackOutcome<T>> {
    return this.guard(async () => {
      const [outcome, value] = (await this.roomScript(name, accountSid, roomSid, ...args)) as [string, R];
      return outcome === "ok" ? { kind: "ok", value: decode(value) } : { kind: outcome as TrackFailure };
    });
  }

  private participantScript(
    name: keyof typeof scripts,
    accountSid: string,
    roomSid: string,
    ...args: string[]
  ): Promise<ParticipantRecord | undefined> {
    return this.guard(async () => {
      const reply = (await this.roomScript(name, accountSid, roomSid, ...args)) as ParticipantReply | null;
      return reply === null ? undefined : decodeParticipant(roomSid, reply);
    });
  }

  // A change that ended a room returns its fields: the account's step follows.
  private async releaseIfEnded(roomSid: string, fields: string[] | null): Promise<void> {
    const room = fields === null ? undefined : decodeRoom(roomSid, fields);
    if (room?.status === "completed") await this.releaseName(room);
  }

  private async readRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined> {
    const room = decodeRoom(roomSid, await this.redis.hmget(roomKeys(accountSid, roomSid).room, ...roomFields));
    return room?.accountSid === accountSid ? room : undefined;
  }

  // A room that the account's directory names: its record, written first
  // from the pending record if its creation stopped half-way.
  private async readNamedRoom(accountSid: string, roomSid: string): Promise<RoomRecord> {
    const room = await this.readRoom(accountSid, roomSid);
    if (room !== undefined) return room;
    const pending = await this.redis.hget(accountKeys(accountSid).pending, roomSid);
    if (pending === null) throw new StoreInvariantError(`the room directory of ${accountSid} names ${roomSid}, which does not exist`);
    return this.writeRoom(accountSid, roomSid, pending);
  }

  private async claimAndWriteRoom(input: NewRoom): Promise<Claim> {
    const keys = accountKeys(input.accountSid);
    const [outcome, value] = (await this.roomScriptWithKeys(
      "rcClaimAndCreateRoom",
      input.accountSid,
      input.sid,
      [keys.names, keys.roomsByCreated("in-progress"), keys.roomsByName("in-progress"), keys.clock, keys.pending],
      input.uniqueName,
      JSON.stringify(pendingFields(input)),
      String(this.options.maxRoomMs),
    )) as [string, string | string[]];
    return outcome === "created"
      ? { kind: "created", room: decodeRoom(input.sid, value as string[])! }
      : { kind: "taken", holder: value as string };
  }

  private async claimThenWriteRoom(input: NewRoom): Promise<Claim> {
    const keys = accountKeys(input.accountSid);
    const [outcome, value] = (await this.redis.rcClaimRoomName(
      keys.names,
      keys.roomsByCreated("in-progress"),
      keys.roomsByName("in-progress"),
      keys.clock,
      keys.pending,
      input.uniqueName,
      input.sid,
      JSON.stringify(pendingFields(input)),
      this.now(),
    )) as [string, string];
    if (outcome === "taken") return { kind: "taken", holder: value };
    try {
      return { kind: "created", room: await this.writeRoom(input.accountSid, input.sid, value) };
    } catch (error) {
      if (refusalOf(error) === undefined) throw error;
      // Refused: the record was not written, unless a reader that met the
      // claim wrote it meanwhile. An undo that fails leaves a claim that the
      // next reader completes, as after a stop.
      const written = await this.readRoom(input.accountSid, input.sid).catch(() => undefined);
      if (written !== undefined) return { kind: "created", room: written };
      await this.redis
        .rcUnclaimRoomName(
          keys.names,
          keys.roomsByCreated("in-progress"),
          keys.roomsByName("in-progress"),
          keys.pending,
          input.uniqueName,
          input.sid,
        )
        .catch(() => undefined);
      throw error;
    }
  }

  // Writes a claimed room's record and its room-created event, once.
  private async writeRoom(accountSid: string, roomSid: string, pending: string): Promise<RoomRecord> {
    const fields = JSON.parse(pending) as Record<string, string>;
    const created = String(Number(fields.date_created));
    const values = (await this.roomScript(
      "rcCreateRoom",
      accountSid,
      roomSid,
      created,
      String(this.options.maxRoomMs),
      ...Object.entries(fields).flat(),
    )) as string[];
    return decodeRoom(roomSid, values)!;
  }

  private async releaseName(room: RoomRecord): Promise<void> {
    const keys = accountKeys(room.accountSid);
    await this.redis.rcReleaseRoomName(
      keys.names,
      keys.roomsByCreated("in-progress"),
      keys.roomsByCreated("completed"),
      keys.roomsByName("in-progress"),
      keys.roomsByName("completed"),
      keys.pending,
      room.uniqueName,
      room.sid,
      encodeTime(room.dateCreated),
      encodeSequence(room.sequence),
    );
  }
}

// The fields of a room hash that a creation knows before the account's clock
// gives it its times and sequence.
function pendingFields(room: NewRoom): Record<string, string> {
  return {
    account_sid: room.accountSid,
    unique_name: room.uniqueName,
    type: room.type,
    max_participants: String(room.maxParticipants),
    max_participant_duration: String(room.maxParticipantDuration),
    empty_room_timeout: String(room.emptyRoomTimeout),
    unused_room_timeout: String(room.unusedRoomTimeout),
    status_callback: room.statusCallback,
    status_callback_method: room.statusCallbackMethod,
  };
}

// The room a timer belongs to ("<kind>:<room sid>[:<participant sid>]").
function timerRoom(timer: string): string | undefined {
  return /^[a-z]+:(RM[0-9a-f]{32})(?::PA[0-9a-f]{32})?$/.exec(timer)?.[1];
}

// Claim keys hold digests, never the claimed text itself.
function digestOf(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}
