import type {
  ChangeEvent,
  DisconnectReason,
  ParticipantRecord,
  ParticipantStatus,
  RoomRecord,
  RoomStatus,
  SubscribeRule,
  SubscribeRules,
  SubscriptionRecord,
  TrackKind,
  TrackRecord,
} from "../domain/records.js";

// A position in a listing: the time a record is ordered by, the sequence that
// breaks ties within that time, then its sid.
export interface Cursor {
  time: number;
  sequence: number;
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

// A room as a creation asks for it; the store sets its status, times and sequence.
export type NewRoom = Omit<RoomRecord, "status" | "dateCreated" | "dateUpdated" | "endTime" | "sequence">;

export type JoinOutcome =
  | { kind: "joined"; participant: ParticipantRecord; displaced: ParticipantRecord | undefined }
  | { kind: "room_not_found" }
  | { kind: "room_completed" }
  | { kind: "room_full"; maxParticipants: number };

export type CreateRoomOutcome = { kind: "created"; room: RoomRecord } | { kind: "name_taken"; existing: RoomRecord };

export interface ParticipantListing {
  participants: ParticipantRecord[];
  // The room's log position at the moment of the listing: following the log
  // from here continues exactly after the state the listing saw.
  logId: string;
}

// The log of one room, or one shard of an account's log. An account's rooms
// are spread over logShards shards (by their sid); each shard's log holds the
// events of its rooms, in each room's order.
export type LogRef = { accountSid: string; roomSid: string } | { accountSid: string; shard: number };
export const logShards = 16;

export interface LoggedEvent {
  // The event's position in the log it was read from.
  id: string;
  event: ChangeEvent;
}

export interface LogBatch {
  events: LoggedEvent[];
  // The position after this batch: the last event's id, or where the
  // follower already was when the batch is empty.
  lastId: string;
}

export interface FollowOptions {
  signal: AbortSignal;
  // An idle follower yields an empty batch this often.
  keepAliveMs: number;
}

// Status callbacks (src/callbacks): each room whose status_callback is set
// has a delivery cursor, the sequence of its last event delivered or given
// up. Every change that appends an event to such a room marks the room due in
// its shard, in the same atomic step, so no event is ever without its mark.
export interface CallbackBatch {
  // The last event sequence delivered or given up (0 before any).
  cursor: number;
  // The room's last event sequence.
  logSequence: number;
  // Failed attempts at the event after the cursor, and when the first of
  // them was made (ms); 0 and undefined while none failed.
  attempts: number;
  failingSince: number | undefined;
  // The events after the cursor that the log still holds, oldest first.
  events: ChangeEvent[];
}

// A callback given up on: the dead-letter record an operator reads.
export interface CallbackFailure {
  accountSid: string;
  roomSid: string;
  sequence: number;
  // The event's StatusCallbackEvent, or "expired" for events the log no
  // longer held when their turn came.
  eventType: string;
  // The callback URL without its fragment.
  url: string;
  // The last HTTP status, or 0 when no answer came.
  status: number;
  // Why the last attempt failed, without secrets.
  reason: string;
  attempts: number;
  // When it was given up (ms).
  time: number;
}

export interface CallbackFailureListing {
  // Newest first.
  failures: CallbackFailure[];
  // Every failure recorded for the account, including those no longer kept.
  total: number;
}

// What the callback relay needs from a store. Leases make one instance at a
// time work a shard of an account; the memory store belongs to one process,
// which always holds them.
export interface CallbackStore {
  // Rooms of a shard whose callbacks are due at `now` (ms), earliest first.
  dueCallbackRooms(accountSid: string, shard: number, now: number, limit: number): Promise<string[]>;
  // The room's delivery cursor and up to `limit` events after it; undefined
  // for a room that does not exist.
  readCallbacks(accountSid: string, roomSid: string, limit: number): Promise<CallbackBatch | undefined>;
  // Moves the cursor from `from` to `to` (false, changing nothing, when it is
  // no longer at `from`), forgets failed attempts and, in the same step,
  // takes the room off the due set when the cursor reached the room's last
  // event or keeps it due now otherwise; records `failure` if given.
  advanceCallback(accountSid: string, roomSid: string, from: number, to: number, failure?: CallbackFailure): Promise<boolean>;
  // Counts a failed attempt at the event after `cursor` and makes the room
  // due again at `dueMs`; false when the cursor moved meanwhile.
  postponeCallback(accountSid: string, roomSid: string, cursor: number, dueMs: number): Promise<boolean>;
  listCallbackFailures(accountSid: string, limit: number, signal?: AbortSignal): Promise<CallbackFailureListing>;
  // Takes or renews the lease of a shard for `owner`; false when another
  // owner holds it.
  holdCallbackLease(accountSid: string, shard: number, owner: string, ttlMs: number): Promise<boolean>;
  releaseCallbackLease(accountSid: string, shard: number, owner: string): Promise<void>;
}

// Deadlines (src/timers): a room's unused and empty timeouts, its maximum
// duration and each participant's maximum duration. The change that starts a
// wait schedules its timer in the same atomic step; firing re-checks the
// condition in the room's own step, so a stale timer changes nothing and a
// timer ends what it ends once, however many instances fire it.
export interface DueTimer {
  // "<kind>:<room sid>[:<participant sid>]"
  timer: string;
  // When it was due (ms).
  due: number;
}

export type TimerOutcome = "fired" | "stale" | "early";

export interface TimerStore {
  // Timers of a shard due now (by the store's clock), earliest first.
  dueTimers(accountSid: string, shard: number, limit: number): Promise<DueTimer[]>;
  fireTimer(accountSid: string, timer: string): Promise<TimerOutcome>;
}

// The LiveKit bridge (src/livekit): what it remembers about LiveKit's rooms,
// beside the records it changes through the operations. LiveKit sids (RM_…,
// PA_…) are checked by the bridge before they reach the store.
export interface LiveKitRoomState {
  // The rollcall room mirroring the LiveKit room, once there is one.
  roomSid: string | undefined;
  // The LiveKit room finished (or rollcall completed it through the API):
  // nothing brings it back.
  finished: boolean;
  // LiveKit participant sid -> the rollcall participant sid of that
  // connection, or "" once LiveKit reported it gone.
  participants: Map<string, string>;
}

export interface LiveKitRoomChange {
  roomSid?: string | undefined;
  finished?: boolean | undefined;
  participants?: Record<string, string> | undefined;
}

export interface LiveKitStore {
  // Takes a one-time claim on `key` (a webhook id, a token) for ttlMs; false
  // when it is already claimed.
  claimLiveKitOnce(accountSid: string, key: string, ttlMs: number): Promise<boolean>;
  releaseLiveKitOnce(accountSid: string, key: string): Promise<void>;
  getLiveKitRoom(accountSid: string, liveKitRoomSid: string): Promise<LiveKitRoomState | undefined>;
  // Merges `change` into the LiveKit room's state and keeps it for ttlMs
  // from now. A room mapped and not finished is in the account's set of
  // followed rooms; finishing takes it out.
  updateLiveKitRoom(accountSid: string, liveKitRoomSid: string, change: LiveKitRoomChange, ttlMs: number): Promise<void>;
  // The followed LiveKit rooms: LiveKit room sid -> rollcall room sid.
  liveKitRooms(accountSid: string): Promise<Map<string, string>>;
  // The LiveKit room sid a followed rollcall room mirrors.
  liveKitRoomOf(accountSid: string, roomSid: string): Promise<string | undefined>;
  // The bridge's position in a shard of the account's log (the last event
  // it acted on), and its lease on the shard, as the callback relay's.
  liveKitCursor(accountSid: string, shard: number): Promise<string | undefined>;
  setLiveKitCursor(accountSid: string, shard: number, id: string): Promise<void>;
  holdLiveKitLease(accountSid: string, shard: number, owner: string, ttlMs: number): Promise<boolean>;
  releaseLiveKitLease(accountSid: string, shard: number, owner: string): Promise<void>;
}

// Store keeps rooms and participants. Every method is scoped to one account:
// a room of another account is reported exactly like a missing one. Every
// change is atomic, takes its time from the clock of the record it changes
// (the room's for participants, the account's for rooms; a clock never goes
// backwards) and appends its events to the change log in the same step. The
// contract suite in test/store-contract.test.ts defines the behaviour both
// implementations share.
// Tracks (src/operations/tracks.ts): why a track change was refused.
export type TrackFailure =
  | "room_not_found"
  | "room_completed"
  | "participant_not_found"
  // The participant is disconnected: it publishes and subscribes no more.
  | "participant_disconnected"
  // No such track published by that participant (or, for an unsubscribe, no
  // such subscription); a track of another room is not found either.
  | "track_not_found"
  // The publisher already publishes a track of that name.
  | "track_name_taken"
  // A participant cannot subscribe to its own track.
  | "own_track";

export type TrackOutcome<T> = { kind: "ok"; value: T } | { kind: TrackFailure };

export interface NewTrack {
  sid: string;
  name: string;
  kind: TrackKind;
  enabled: boolean;
}

// A page of a participant's tracks: published ones by publication, subscribed
// ones by subscription (time, then the room's event sequence, then sid).
export interface TrackQuery {
  cursor?: Cursor | undefined;
  limit: number;
}

// Published tracks, subscriptions and subscribe rules. Every change is atomic
// with its event, in the room's own step; a participant's disconnect (and so a
// room's completion) unpublishes its tracks and ends its subscriptions in the
// disconnect's own step.
export interface TrackStore {
  publishTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    track: NewTrack,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>>;
  // Enables or disables a published track; an unchanged state appends nothing.
  setTrackEnabled(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
    enabled: boolean,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>>;
  // Removes a published track and every subscription to it; the track as it was.
  unpublishTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<TrackRecord>>;
  // Subscribes a present participant to another's published track of the
  // same room; an existing subscription comes back unchanged.
  subscribe(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscriptionRecord>>;
  unsubscribe(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscriptionRecord>>;
  // A published track of the participant, by sid or by name.
  getPublishedTrack(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    by: { sid: string } | { name: string },
    signal?: AbortSignal,
  ): Promise<TrackRecord | undefined>;
  getSubscription(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    trackSid: string,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord | undefined>;
  listPublishedTracks(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    query: TrackQuery,
    signal?: AbortSignal,
  ): Promise<TrackRecord[]>;
  listSubscriptions(
    accountSid: string,
    roomSid: string,
    subscriberSid: string,
    query: TrackQuery,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord[]>;
  // undefined for a participant that does not exist.
  getSubscribeRules(accountSid: string, roomSid: string, participantSid: string, signal?: AbortSignal): Promise<SubscribeRules | undefined>;
  // Replaces the participant's rules (any status), appending subscribe-rules-updated.
  setSubscribeRules(
    accountSid: string,
    roomSid: string,
    participantSid: string,
    rules: SubscribeRule[],
    signal?: AbortSignal,
  ): Promise<TrackOutcome<SubscribeRules>>;
}

// Methods a caller's request runs take its signal: once the caller is gone
// (cancelled, reset), no further store command starts for it. A read checks
// before each command; a change checks before its first step only, as its
// later steps complete what the first began.
export interface Store extends CallbackStore, TimerStore, TrackStore, LiveKitStore {
  readonly description: string;

  // Stores a new in-progress room unless another in-progress room of the
  // account holds its unique name.
  createRoom(room: NewRoom, signal?: AbortSignal): Promise<CreateRoomOutcome>;
  getRoom(accountSid: string, roomSid: string, signal?: AbortSignal): Promise<RoomRecord | undefined>;
  // The in-progress room holding this unique name.
  findRoomByName(accountSid: string, uniqueName: string, signal?: AbortSignal): Promise<RoomRecord | undefined>;
  listRooms(accountSid: string, query: RoomQuery, signal?: AbortSignal): Promise<RoomRecord[]>;
  // Marks the room completed, disconnects its present participants and frees
  // its unique name. A room that is no longer in progress comes back unchanged.
  completeRoom(accountSid: string, roomSid: string, signal?: AbortSignal): Promise<RoomRecord | undefined>;

  // Adds a connected participant to an in-progress room with room to spare,
  // disconnecting the present participant of the same identity, if any.
  join(accountSid: string, roomSid: string, sid: string, identity: string, signal?: AbortSignal): Promise<JoinOutcome>;
  getParticipant(accountSid: string, roomSid: string, sid: string, signal?: AbortSignal): Promise<ParticipantRecord | undefined>;
  findPresentParticipant(
    accountSid: string,
    roomSid: string,
    identity: string,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord | undefined>;
  // Disconnects a present participant; a disconnected one comes back unchanged.
  disconnectParticipant(
    accountSid: string,
    roomSid: string,
    sid: string,
    reason: DisconnectReason,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord | undefined>;
  // Replaces a participant's identity with its sid, whatever its status.
  anonymizeParticipant(accountSid: string, roomSid: string, sid: string, signal?: AbortSignal): Promise<ParticipantRecord | undefined>;
  // Participants of one status in (start time, sequence) order.
  listParticipants(accountSid: string, roomSid: string, query: ParticipantQuery, signal?: AbortSignal): Promise<ParticipantListing>;

  // Follows a log from after `afterId` (undefined: its current end): yields
  // what is there, then each batch appended later, and an empty batch after
  // keepAliveMs without news. Throws LogPositionError for a position the log
  // no longer holds or never held. A follower that reads slowly is not
  // buffered for: it reads on from where it is.
  followLog(ref: LogRef, afterId: string | undefined, options: FollowOptions): AsyncIterable<LogBatch>;

  // Resolves when the store answers and would accept a write (readiness);
  // rejects with an unavailable error otherwise, whose refusal names why a
  // store that answers refuses writes.
  ping(): Promise<void>;
  close(): Promise<void>;
}

// A log position that is no longer retained ("expired") or that the log never
// held ("unknown": forged, or lost with a Redis failover).
export class LogPositionError extends Error {
  override readonly name = "LogPositionError";
  constructor(
    readonly reason: "expired" | "unknown",
    message: string,
  ) {
    super(message);
  }
}

// The longest a room lasts, from its creation (ROLLCALL_MAX_ROOM_HOURS).
export interface RoomDurationLimit {
  maxRoomMs: number;
}

export interface RetentionLimits {
  // Events younger than this are kept...
  retentionMs: number;
  // ...and so are the last this many of each room, whichever keeps more.
  retentionPerRoom: number;
}

// Which shard of its account's log a room's events go to.
export function shardOf(roomSid: string): number {
  return Number.parseInt(roomSid.slice(-1), 16) % logShards;
}
