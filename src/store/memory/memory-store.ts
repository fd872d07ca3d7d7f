import { indexMember, lexRange, sidLength, sidOfMember } from "../lex-index.js";
import {
  defaultSubscribeRules,
  isPresent,
  type ChangeEvent,
  type DisconnectReason,
  type EventType,
  type ParticipantRecord,
  type ParticipantStatus,
  type RoomEndReason,
  type RoomRecord,
  type RoomStatus,
  type SubscribeRule,
  type SubscribeRules,
  type SubscriptionRecord,
  type TrackRecord,
} from "../../domain/records.js";
import {
  logShards,
  shardOf,
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
  type CallbackBatch,
  type CallbackFailure,
  type CallbackFailureListing,
  type LiveKitRoomChange,
  type LiveKitRoomState,
  type NewTrack,
  type TrackOutcome,
  type TrackQuery,
} from "../store.js";
import { MemoryLiveKit } from "./memory-livekit.js";
import { MemoryLog } from "./memory-log.js";
import { MemoryTimers } from "./memory-timers.js";
import { SortedStrings } from "./sorted-strings.js";

// The dead letters kept per account (the count of all is kept).
const failuresKept = 1000;

interface RoomState {
  room: RoomRecord;
  participants: Map<string, ParticipantRecord>;
  // identity -> sid of the present participant holding it
  present: Map<string, string>;
  byStart: Map<ParticipantStatus, SortedStrings>;
  byIdentity: Map<ParticipantStatus, SortedStrings>;
  // The room's clock: the time of its latest change.
  clock: number;
  log: MemoryLog;
  // Status callbacks: the delivery cursor and the failed attempts at the next event.
  callbackSequence: number;
  callbackAttempts: number;
  callbackFailingSince: number | undefined;
  // Timers: whether anyone ever joined, since when the room is empty, and
  // when it ends at the latest.
  used: boolean;
  emptiedAt: number | undefined;
  endsBy: number;
  // Published tracks by sid; per publisher, its tracks by name and in order.
  tracks: Map<string, TrackRecord>;
  published: Map<string, { byName: Map<string, string>; index: SortedStrings }>;
  // Per subscriber, its subscriptions (track sid -> index member) in order;
  // per track, its subscribers.
  subscriptions: Map<string, { members: Map<string, string>; index: SortedStrings }>;
  subscribers: Map<string, Set<string>>;
  // Subscribe rules set through the API, by participant.
  rules: Map<string, { rules: SubscribeRule[]; dateCreated: number; dateUpdated: number }>;
}

interface AccountState {
  // unique name -> sid of the in-progress room holding it
  names: Map<string, string>;
  byCreated: Map<RoomStatus, SortedStrings>;
  byName: Map<RoomStatus, SortedStrings>;
  // The account's clock: the creation time of its latest room, and how many it created.
  clock: number;
  rooms: number;
  shards: MemoryLog[];
  // Per shard: room sid -> when its callbacks are due (ms).
  callbacksDue: Map<string, number>[];
  // Dead letters, oldest first, and how many were ever recorded.
  callbackFailures: CallbackFailure[];
  callbackFailureCount: number;
  // Per shard: the deadlines of its rooms and participants.
  timers: MemoryTimers[];
}

export interface MemoryStoreOptions extends RetentionLimits, RoomDurationLimit {
  // The wall clock; each room's and account's own clock never goes back from
  // what it last read.
  now?: () => number;
}

// The embedded store: the same contract as the Redis store, kept in this
// process. Each change runs to completion without awaiting, which makes it
// atomic together with its events.
/* eslint-disable @typescript-eslint/require-await -- async keeps the Store contract with nothing to await: a throw rejects, not escapes */
export class MemoryStore implements Store {
  readonly description = "in-memory store (data is lost when the process exits)";
  private readonly rooms = new Map<string, RoomState>();
  private readonly accounts = new Map<string, AccountState>();
  private readonly now: () => number;

  private readonly liveKit: MemoryLiveKit;

  constructor(private readonly options: MemoryStoreOptions) {
    this.now = options.now ?? Date.now;
    this.liveKit = new MemoryLiveKit(this.now);
  }

  async createRoom(input: NewRoom): Promise<CreateRoomOutcome> {
    const account = this.account(input.accountSid);
    const holder = account.names.get(input.uniqueName);
    if (holder !== undefined) return { kind: "name_taken", existing: { ...this.rooms.get(holder)!.room } };
    const time = Math.max(this.now(), account.clock);
    account.clock = time;
    const room: RoomRecord = {
      ...input,
      status: "in-progress",
      dateCreated: time,
      dateUpdated: time,
      endTime: undefined,
      sequence: ++account.rooms,
    };
    const state: RoomState = {
      room,
      participants: new Map(),
      present: new Map(),
      byStart: new Map(),
      byIdentity: new Map(),
      clock: time,
      log: new MemoryLog(),
      callbackSequence: 0,
      callbackAttempts: 0,
      callbackFailingSince: undefined,
      used: false,
      emptiedAt: undefined,
      endsBy: time + this.options.maxRoomMs,
      tracks: new Map(),
      published: new Map(),
      subscriptions: new Map(),
      subscribers: new Map(),
      rules: new Map(),
    };
    this.rooms.set(room.sid, state);
    account.names.set(room.uniqueName, room.sid);
    indexRoom(account, room);
    this.append(state, time, "room-created");
    const timers = this.timersOf(state);
    timers.schedule(timerOf("room", room.sid), state.endsBy);
    if (room.unusedRoomTimeout > 0) timers.schedule(timerOf("unused", room.sid), time + room.unusedRoomTimeout * 60_000);
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

  async completeRoom(accountSid: string, roomSid: string): Promise<RoomRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return undefined;
    if (state.room.status === "in-progress") this.complete(state, this.tick(state), "completed");
    return { ...state.room };
  }

  async join(accountSid: string, roomSid: string, sid: string, identity: string): Promise<JoinOutcome> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return { kind: "room_not_found" };
    if (state.room.status !== "in-progress") return { kind: "room_completed" };
    const previousSid = state.present.get(identity);
    const others = state.present.size - (previousSid === undefined ? 0 : 1);
    if (others >= state.room.maxParticipants) return { kind: "room_full", maxParticipants: state.room.maxParticipants };
    const time = this.tick(state);
    const displaced =
      previousSid === undefined ? undefined : this.disconnect(state, state.participants.get(previousSid)!, time, "replaced");
    const participant: ParticipantRecord = {
      sid,
      roomSid,
      accountSid,
      identity,
      status: "connected",
      startTime: time,
      dateUpdated: time,
      endTime: undefined,
      sequence: state.log.lastCounter + 1,
    };
    state.participants.set(sid, participant);
    state.present.set(identity, sid);
    indexParticipant(state, participant);
    state.used = true;
    const timers = this.timersOf(state);
    timers.cancel(timerOf("unused", roomSid));
    timers.cancel(timerOf("empty", roomSid));
    timers.schedule(timerOf("participant", roomSid, sid), time + state.room.maxParticipantDuration * 1000);
    this.append(state, time, "participant-connected", participant);
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

  async disconnectParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
    reason: DisconnectReason,
  ): Promise<ParticipantRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const participant = state?.participants.get(sid);
    if (participant === undefined) return undefined;
    if (!isPresent(participant.status)) return { ...participant };
    const time = this.tick(state!);
    this.disconnect(state!, participant, time, reason);
    this.afterLeaving(state!, time);
    return { ...participant };
  }

  async dueTimers(accountSid: string, shard: number, limit: number): Promise<DueTimer[]> {
    return this.accounts.get(accountSid)?.timers[shard]?.due(this.now(), limit) ?? [];
  }

  // Re-checks what the timer waits for, as the Redis store's script does.
  async fireTimer(accountSid: string, timer: string): Promise<TimerOutcome> {
    const [kind, roomSid = "", participantSid] = timer.split(":");
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return "stale";
    const timers = this.timersOf(state);
    timers.cancel(timer);
    const { room } = state;
    if (room.status !== "in-progress") return "stale";
    let due: number;
    const participant = participantSid === undefined ? undefined : state.participants.get(participantSid);
    switch (kind) {
      case "unused":
        if (state.used) return "stale";
        due = room.dateCreated + room.unusedRoomTimeout * 60_000;
        break;
      case "empty":
        if (state.present.size > 0 || state.emptiedAt === undefined) return "stale";
        due = state.emptiedAt + room.emptyRoomTimeout * 60_000;
        break;
      case "room":
        due = state.endsBy;
        break;
      case "participant":
        if (participant === undefined || !isPresent(participant.status)) return "stale";
        due = participant.startTime + room.maxParticipantDuration * 1000;
        break;
      default:
        return "stale";
    }
    if (this.now() < due) {
      timers.schedule(timer, due);
      return "early";
    }
    const time = this.tick(state);
    if (participant !== undefined) {
      this.disconnect(state, participant, time, "max-duration");
      this.afterLeaving(state, time);
    } else {
      this.complete(state, time, kind === "unused" ? "unused-timeout" : kind === "empty" ? "empty-timeout" : "max-duration");
    }
    return "fired";
  }

  async anonymizeParticipant(accountSid: string, roomSid: string, sid: string): Promise<ParticipantRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const participant = state?.participants.get(sid);
    if (participant === undefined) return undefined;
    if (participant.identity !== sid) {
      const time = this.tick(state!);
      unindexParticipant(state!, participant);
      if (state!.present.get(participant.identity) === sid) {
        state!.present.delete(participant.identity);
        state!.present.set(sid, sid);
      }
      participant.identity = sid;
      participant.dateUpdated = Math.max(time, participant.startTime);
      indexParticipant(state!, participant);
      this.append(state!, time, "participant-anonymized", participant);
    }
    return { ...participant };
  }

  async listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery): Promise<ParticipantListing> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return { participants: [], logId: "0-0" };
    const index = query.identity === undefined ? state.byStart : state.byIdentity;
    const members = index.get(query.status)?.range(lexRange(query, query.identity), query.limit) ?? [];
    return { participants: members.map((member) => ({ ...state.participants.get(sidOfMember(member))! })), logId: state.log.endId };
  }

  followLog(ref: LogRef, afterId: string | undefined, options: FollowOptions): AsyncIterable<LogBatch> {
    const log = "roomSid" in ref ? this.room(ref.accountSid, ref.roomSid)?.log : this.account(ref.accountSid).shards[ref.shard];
    return (log ?? new MemoryLog()).follow(afterId, options);
  }

  async dueCallbackRooms(accountSid: string, shard: number, now: number, limit: number): Promise<string[]> {
    const due = this.accounts.get(accountSid)?.callbacksDue[shard];
    if (due === undefined) return [];
    return [...due]
      .filter(([, when]) => when <= now)
      .sort((a, b) => a[1] - b[1])
      .slice(0, limit)
      .map(([sid]) => sid);
  }

  async readCallbacks(accountSid: string, roomSid: string, limit: number): Promise<CallbackBatch | undefined> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return undefined;
    return {
      cursor: state.callbackSequence,
      logSequence: state.log.lastCounter,
      attempts: state.callbackAttempts,
      failingSince: state.callbackFailingSince,
      events: state.log.eventsAfter(state.callbackSequence, limit),
    };
  }

  async advanceCallback(accountSid: string, roomSid: string, from: number, to: number, failure?: CallbackFailure): Promise<boolean> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined || state.callbackSequence !== from) return false;
    state.callbackSequence = to;
    state.callbackAttempts = 0;
    state.callbackFailingSince = undefined;
    const account = this.account(accountSid);
    const due = account.callbacksDue[shardOf(roomSid)]!;
    if (to >= state.log.lastCounter) due.delete(roomSid);
    else due.set(roomSid, this.now());
    if (failure !== undefined) {
      account.callbackFailures.push({ ...failure });
      account.callbackFailureCount++;
      if (account.callbackFailures.length > failuresKept) account.callbackFailures.shift();
    }
    return true;
  }

  async postponeCallback(accountSid: string, roomSid: string, cursor: number, dueMs: number): Promise<boolean> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined || state.callbackSequence !== cursor) return false;
    state.callbackAttempts++;
    state.callbackFailingSince ??= this.now();
    this.account(accountSid).callbacksDue[shardOf(roomSid)]!.set(roomSid, dueMs);
    return true;
  }

  async listCallbackFailures(accountSid: string, limit: number): Promise<CallbackFailureListing> {
    const account = this.accounts.get(accountSid);
    if (account === undefined) return { failures: [], total: 0 };
    return {
      failures: account.callbackFailures
        .slice(-limit)
        .reverse()
        .map((failure) => ({ ...failure })),
      total: account.callbackFailureCount,
    };
  }

  // One process owns the memory store: its relay always holds every lease.
  async holdCallbackLease(): Promise<boolean> {
    return true;
  }

  async releaseCallbackLease(): Promise<void> {}

  async claimLiveKitOnce(accountSid: string, key: string, ttlMs: number): Promise<boolean> {
    return this.liveKit.claim(accountSid, key, ttlMs);
  }

  async releaseLiveKitOnce(accountSid: string, key: string): Promise<void> {
    this.liveKit.release(accountSid, key);
  }

  async getLiveKitRoom(accountSid: string, liveKitRoomSid: string): Promise<LiveKitRoomState | undefined> {
    return this.liveKit.get(accountSid, liveKitRoomSid);
  }

  async updateLiveKitRoom(accountSid: string, liveKitRoomSid: string, change: LiveKitRoomChange, ttlMs: number): Promise<void> {
    this.liveKit.update(accountSid, liveKitRoomSid, change, ttlMs);
  }

  async liveKitRooms(accountSid: string): Promise<Map<string, string>> {
    return this.liveKit.followedRooms(accountSid);
  }

  async liveKitRoomOf(accountSid: string, roomSid: string): Promise<string | undefined> {
    return this.liveKit.roomOf(accountSid, roomSid);
  }

  async liveKitCursor(accountSid: string, shard: number): Promise<string | undefined> {
    return this.liveKit.cursor(accountSid, shard);
  }

  async setLiveKitCursor(accountSid: string, shard: number, id: string): Promise<void> {
    this.liveKit.setCursor(accountSid, shard, id);
  }

  // One process owns the memory store: its bridge always holds every lease.
  async holdLiveKitLease(): Promise<boolean> {
    return true;
  }

  async releaseLiveKitLease(): Promise<void> {}

  async publishTrack(accountSid: string, roomSid: string, participantSid: string, input: NewTrack): Promise<TrackOutcome<TrackRecord>> {
    const found = this.presentParticipant(accountSid, roomSid, participantSid);
    if ("kind" in found) return found;
    const { state, participant } = found;
    const published = mapOf(state.published, participant.sid, () => ({ byName: new Map<string, string>(), index: new SortedStrings() }));
    if (published.byName.has(input.name)) return { kind: "track_name_taken" };
    const time = this.tick(state);
    const track: TrackRecord = {
      ...input,
      roomSid,
      accountSid,
      participantSid: participant.sid,
      dateCreated: time,
      dateUpdated: time,
      sequence: state.log.lastCounter + 1,
    };
    state.tracks.set(track.sid, track);
    published.byName.set(track.name, track.sid);
    published.index.add(indexMember(track.dateCreated, track.sequence, track.sid));
    this.append(state, time, "track-added", participant, undefined, { track });
    return { kind: "ok", value: { ...track } };
  }

  async setTrackEnabled(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
    enabled: boolean,
  ): Promise<TrackOutcome<TrackRecord>> {
    const found = this.publishedTrack(accountSid, roomSid, participantSid, trackSid);
    if ("kind" in found) return found;
    const { state, participant, track } = found;
    if (track.enabled !== enabled) {
      const time = this.tick(state);
      track.enabled = enabled;
      track.dateUpdated = Math.max(time, track.dateCreated);
      this.append(state, time, enabled ? "track-enabled" : "track-disabled", participant, undefined, { track });
    }
    return { kind: "ok", value: { ...track } };
  }

  async unpublishTrack(accountSid: string, roomSid: string, participantSid: string, trackSid: string): Promise<TrackOutcome<TrackRecord>> {
    const found = this.publishedTrack(accountSid, roomSid, participantSid, trackSid);
    if ("kind" in found) return found;
    this.removeTrack(found.state, found.track, this.tick(found.state));
    return { kind: "ok", value: { ...found.track } };
  }

  async subscribe(accountSid: string, roomSid: string, subscriberSid: string, trackSid: string): Promise<TrackOutcome<SubscriptionRecord>> {
    const found = this.presentParticipant(accountSid, roomSid, subscriberSid);
    if ("kind" in found) return found;
    const { state, participant } = found;
    const track = state.tracks.get(trackSid);
    if (track === undefined) return { kind: "track_not_found" };
    if (track.participantSid === participant.sid) return { kind: "own_track" };
    const subscriptions = mapOf(state.subscriptions, participant.sid, () => ({
      members: new Map<string, string>(),
      index: new SortedStrings(),
    }));
    const existing = subscriptions.members.get(trackSid);
    if (existing !== undefined) return { kind: "ok", value: subscriptionOf(track, participant.sid, existing) };
    const time = this.tick(state);
    const member = indexMember(time, state.log.lastCounter + 1, trackSid);
    subscriptions.members.set(trackSid, member);
    subscriptions.index.add(member);
    mapOf(state.subscribers, trackSid, () => new Set<string>()).add(participant.sid);
    this.append(state, time, "track-subscribed", participant, undefined, { track });
    return { kind: "ok", value: subscriptionOf(track, participant.sid, member) };
  }

  async unsubscribe(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
  ): Promise<TrackOutcome<SubscriptionRecord>> {
    const found = this.presentParticipant(accountSid, roomSid, subscriberSid);
    if ("kind" in found) return found;
    const { state, participant } = found;
    const subscriptions = state.subscriptions.get(participant.sid);
    const member = subscriptions?.members.get(trackSid);
    const track = state.tracks.get(trackSid);
    if (member === undefined || track === undefined) return { kind: "track_not_found" };
    const time = this.tick(state);
    subscriptions!.members.delete(trackSid);
    subscriptions!.index.delete(member);
    state.subscribers.get(trackSid)?.delete(participant.sid);
    this.append(state, time, "track-unsubscribed", participant, undefined, { track });
    return { kind: "ok", value: subscriptionOf(track, participant.sid, member) };
  }

  async getPublishedTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    by: { sid: string } | { name: string },
  ): Promise<TrackRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return undefined;
    const sid = "sid" in by ? by.sid : state.published.get(participantSid)?.byName.get(by.name);
    const track = sid === undefined ? undefined : state.tracks.get(sid);
    return track?.participantSid === participantSid ? { ...track } : undefined;
  }

  async getSubscription(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
  ): Promise<SubscriptionRecord | undefined> {
    const state = this.room(accountSid, roomSid);
    const member = state?.subscriptions.get(subscriberSid)?.members.get(trackSid);
    const track = state?.tracks.get(trackSid);
    return member === undefined || track === undefined ? undefined : subscriptionOf(track, subscriberSid, member);
  }

  async listPublishedTracks(accountSid: string, roomSid: string, participantSid: string, query: TrackQuery): Promise<TrackRecord[]> {
    const state = this.room(accountSid, roomSid);
    const members = state?.published.get(participantSid)?.index.range(lexRange(query), query.limit) ?? [];
    return members.map((member) => ({ ...state!.tracks.get(sidOfMember(member))! }));
  }

  async listSubscriptions(accountSid: string, roomSid: string, subscriberSid: string, query: TrackQuery): Promise<SubscriptionRecord[]> {
    const state = this.room(accountSid, roomSid);
    const members = state?.subscriptions.get(subscriberSid)?.index.range(lexRange(query), query.limit) ?? [];
    return members.map((member) => subscriptionOf(state!.tracks.get(sidOfMember(member))!, subscriberSid, member));
  }

  async getSubscribeRules(accountSid: string, roomSid: string, participantSid: string): Promise<SubscribeRules | undefined> {
    const state = this.room(accountSid, roomSid);
    if (state?.participants.get(participantSid) === undefined) return undefined;
    return rulesOf(roomSid, participantSid, state.rules.get(participantSid));
  }

  async setSubscribeRules(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    rules: SubscribeRule[],
  ): Promise<TrackOutcome<SubscribeRules>> {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return { kind: "room_not_found" };
    const participant = state.participants.get(participantSid);
    if (participant === undefined) return { kind: "participant_not_found" };
    const time = this.tick(state);
    const previous = state.rules.get(participantSid);
    const kept = { rules: rules.map((rule) => ({ ...rule })), dateCreated: previous?.dateCreated ?? time, dateUpdated: time };
    state.rules.set(participantSid, kept);
    const value = rulesOf(roomSid, participantSid, kept);
    this.append(state, time, "subscribe-rules-updated", participant, undefined, { rules: value });
    return { kind: "ok", value };
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
      account = {
        names: new Map(),
        byCreated: new Map(),
        byName: new Map(),
        clock: 0,
        rooms: 0,
        shards: Array.from({ length: logShards }, () => new MemoryLog()),
        callbacksDue: Array.from({ length: logShards }, () => new Map<string, number>()),
        callbackFailures: [],
        callbackFailureCount: 0,
        timers: Array.from({ length: logShards }, () => new MemoryTimers()),
      };
      this.accounts.set(accountSid, account);
    }
    return account;
  }

  // The time of a change to the room: the wall clock, but never before the
  // room's previous change.
  private tick(state: RoomState): number {
    state.clock = Math.max(this.now(), state.clock);
    return state.clock;
  }

  // The room's end: everyone present is disconnected, then the room ends,
  // with why, its name is free and its own deadlines go.
  private complete(state: RoomState, time: number, reason: RoomEndReason): void {
    const { room } = state;
    for (const sid of [...state.present.values()]) this.disconnect(state, state.participants.get(sid)!, time, "room-completed");
    const account = this.account(room.accountSid);
    unindexRoom(account, room);
    room.status = "completed";
    room.endTime = Math.max(time, room.dateCreated);
    room.dateUpdated = room.endTime;
    indexRoom(account, room);
    if (account.names.get(room.uniqueName) === room.sid) account.names.delete(room.uniqueName);
    const timers = this.timersOf(state);
    for (const kind of ["unused", "empty", "room"] as const) timers.cancel(timerOf(kind, room.sid));
    this.append(state, time, "room-ended", undefined, reason);
  }

  // After a participant left: an ad-hoc room (timeouts 0) ends with its last
  // participant, another room starts its empty timeout.
  private afterLeaving(state: RoomState, time: number): void {
    if (state.present.size > 0 || state.room.status !== "in-progress") return;
    if (state.room.emptyRoomTimeout === 0) {
      this.complete(state, time, "last-participant-left");
      return;
    }
    state.emptiedAt = time;
    this.timersOf(state).schedule(timerOf("empty", state.room.sid), time + state.room.emptyRoomTimeout * 60_000);
  }

  private presentParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
  ):
    | { state: RoomState; participant: ParticipantRecord }
    | { kind: "room_not_found" | "room_completed" | "participant_not_found" | "participant_disconnected" } {
    const state = this.room(accountSid, roomSid);
    if (state === undefined) return { kind: "room_not_found" };
    if (state.room.status !== "in-progress") return { kind: "room_completed" };
    const participant = state.participants.get(sid);
    if (participant === undefined) return { kind: "participant_not_found" };
    if (!isPresent(participant.status)) return { kind: "participant_disconnected" };
    return { state, participant };
  }

  private publishedTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
  ):
    | { state: RoomState; participant: ParticipantRecord; track: TrackRecord }
    | { kind: "room_not_found" | "room_completed" | "participant_not_found" | "participant_disconnected" | "track_not_found" } {
    const found = this.presentParticipant(accountSid, roomSid, participantSid);
    if ("kind" in found) return found;
    const track = found.state.tracks.get(trackSid);
    if (track === undefined || track.participantSid !== participantSid) return { kind: "track_not_found" };
    return { ...found, track };
  }

  // Unpublishes a track: its subscriptions end with it, in one event.
  private removeTrack(state: RoomState, track: TrackRecord, time: number): void {
    for (const subscriber of state.subscribers.get(track.sid) ?? []) {
      const subscriptions = state.subscriptions.get(subscriber);
      const member = subscriptions?.members.get(track.sid);
      if (member !== undefined) {
        subscriptions!.members.delete(track.sid);
        subscriptions!.index.delete(member);
      }
    }
    state.subscribers.delete(track.sid);
    const published = state.published.get(track.participantSid)!;
    published.byName.delete(track.name);
    published.index.delete(indexMember(track.dateCreated, track.sequence, track.sid));
    state.tracks.delete(track.sid);
    this.append(state, time, "track-removed", state.participants.get(track.participantSid), undefined, { track });
  }

  private timersOf(state: RoomState): MemoryTimers {
    return this.account(state.room.accountSid).timers[shardOf(state.room.sid)]!;
  }

  private disconnect(state: RoomState, participant: ParticipantRecord, time: number, reason: DisconnectReason): ParticipantRecord {
    // Its tracks go first (each with its event) and its subscriptions end,
    // in the same step as the disconnect.
    const published = state.published.get(participant.sid)?.index.range({ min: "-", max: "+" }, Number.MAX_SAFE_INTEGER) ?? [];
    for (const member of published) this.removeTrack(state, state.tracks.get(sidOfMember(member))!, time);
    for (const trackSid of state.subscriptions.get(participant.sid)?.members.keys() ?? [])
      state.subscribers.get(trackSid)?.delete(participant.sid);
    state.subscriptions.delete(participant.sid);
    this.timersOf(state).cancel(timerOf("participant", state.room.sid, participant.sid));
    unindexParticipant(state, participant);
    if (state.present.get(participant.identity) === participant.sid) state.present.delete(participant.identity);
    participant.status = "disconnected";
    participant.endTime = Math.max(time, participant.startTime);
    participant.dateUpdated = participant.endTime;
    indexParticipant(state, participant);
    this.append(state, time, "participant-disconnected", participant, reason);
    return participant;
  }

  private append(
    state: RoomState,
    time: number,
    type: EventType,
    participant?: ParticipantRecord,
    reason?: DisconnectReason | RoomEndReason,
    extra: { track?: TrackRecord; rules?: SubscribeRules } = {},
  ): void {
    const { room, log } = state;
    const event: ChangeEvent = {
      accountSid: room.accountSid,
      roomSid: room.sid,
      sequence: log.lastCounter + 1,
      type,
      time,
      reason,
      room: { ...room },
      participant: participant && { ...participant },
    };
    if (extra.track !== undefined) event.track = { ...extra.track };
    if (extra.rules !== undefined) event.rules = copyRules(extra.rules);
    log.append(time, event);
    const shard = this.account(room.accountSid).shards[shardOf(room.sid)]!;
    shard.append(time, event);
    const cutoff = time - this.options.retentionMs;
    log.trim((entry, remaining) => remaining > this.options.retentionPerRoom && entry.event.time < cutoff);
    shard.trim((entry) => entry.event.time < cutoff);
    const due = this.account(room.accountSid).callbacksDue[shardOf(room.sid)]!;
    if (room.statusCallback !== "" && !due.has(room.sid)) due.set(room.sid, time);
  }
}
/* eslint-enable @typescript-eslint/require-await */

function indexParticipant(state: RoomState, p: ParticipantRecord): void {
  setOf(state.byStart, p.status).add(indexMember(p.startTime, p.sequence, p.sid));
  setOf(state.byIdentity, p.status).add(indexMember(p.startTime, p.sequence, p.sid, p.identity));
}

function unindexParticipant(state: RoomState, p: ParticipantRecord): void {
  setOf(state.byStart, p.status).delete(indexMember(p.startTime, p.sequence, p.sid));
  setOf(state.byIdentity, p.status).delete(indexMember(p.startTime, p.sequence, p.sid, p.identity));
}

function indexRoom(account: AccountState, room: RoomRecord): void {
  setOf(account.byCreated, room.status).add(indexMember(room.dateCreated, room.sequence, room.sid));
  setOf(account.byName, room.status).add(indexMember(room.dateCreated, room.sequence, room.sid, room.uniqueName));
}

function unindexRoom(account: AccountState, room: RoomRecord): void {
  setOf(account.byCreated, room.status).delete(indexMember(room.dateCreated, room.sequence, room.sid));
  setOf(account.byName, room.status).delete(indexMember(room.dateCreated, room.sequence, room.sid, room.uniqueName));
}

function mapOf<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

// A subscription from its track and its index member (time, sequence, sid).
function subscriptionOf(track: TrackRecord, subscriberSid: string, member: string): SubscriptionRecord {
  return {
    track: { ...track },
    participantSid: subscriberSid,
    dateCreated: Number(member.slice(0, 13)),
    sequence: Number(member.slice(13, -sidLength)),
  };
}

function rulesOf(
  roomSid: string,
  participantSid: string,
  kept: { rules: SubscribeRule[]; dateCreated: number; dateUpdated: number } | undefined,
): SubscribeRules {
  if (kept === undefined)
    return {
      roomSid,
      participantSid,
      rules: defaultSubscribeRules.map((rule) => ({ ...rule })),
      dateCreated: undefined,
      dateUpdated: undefined,
    };
  return {
    roomSid,
    participantSid,
    rules: kept.rules.map((rule) => ({ ...rule })),
    dateCreated: kept.dateCreated,
    dateUpdated: kept.dateUpdated,
  };
}

function copyRules(rules: SubscribeRules): SubscribeRules {
  return { ...rules, rules: rules.rules.map((rule) => ({ ...rule })) };
}

function setOf<K>(sets: Map<K, SortedStrings>, key: K): SortedStrings {
  let set = sets.get(key);
  if (set === undefined) {
    set = new SortedStrings();
    sets.set(key, set);
  }
  return set;
}

// A timer's name: "<kind>:<room sid>[:<participant sid>]", as in the Redis store.
function timerOf(kind: "unused" | "empty" | "room" | "participant", roomSid: string, participantSid?: string): string {
  return participantSid === undefined ? `${kind}:${roomSid}` : `${kind}:${roomSid}:${participantSid}`;
}
