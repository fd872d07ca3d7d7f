import type { SubscribeRule, SubscribeRules, SubscriptionRecord, TrackKind, TrackRecord } from "../domain/records.js";
import type { Cursor, Store, TrackFailure, TrackOutcome } from "../store/store.js";
import { invalid, quote, RollcallError } from "../domain/errors.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import type { ParticipantOperations } from "./participants.js";
import { checkTrackName, pageSizeOf } from "./rules.js";
import { newSid, parseSid } from "./sids.js";
import { checkRules, parseRulesJson } from "./subscribe-rules.js";

export interface PublishInput {
  room: string;
  participant: string;
  name: string;
  kind: TrackKind | undefined;
  enabled?: boolean | undefined;
}

export interface TrackListInput {
  room: string;
  participant: string;
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface TrackPage<T> {
  items: T[];
  nextPageToken: string;
}

// Page tokens of track listings name what they list in place of a status.
const publishedList = ["published"] as const;
const subscribedList = ["subscribed"] as const;

// Published tracks, subscriptions and subscribe rules. The media plane
// reports tracks (publish, enable, unpublish, subscribe); the REST API reads
// them and sets subscribe rules. A participant is named by sid (any status) or
// by the identity of a present one; a track by sid, or by name among its
// publisher's tracks.
export class TrackOperations {
  constructor(
    private readonly store: Store,
    private readonly participants: ParticipantOperations,
  ) {}

  async publish(accountSid: string, input: PublishInput, signal?: AbortSignal): Promise<TrackRecord> {
    const name = checkTrackName(input.name);
    if (input.kind === undefined) throw invalid("track_kind_invalid", "kind", "is required: audio, video or data");
    const p = await this.participants.get(accountSid, input.room, input.participant, signal);
    const track = { sid: newSid("MT"), name, kind: input.kind, enabled: input.enabled ?? true };
    return settled(await this.store.publishTrack(accountSid, p.roomSid, p.sid, track, signal), `a track named ${quote(name)}`);
  }

  async update(
    accountSid: string,
    room: string,
    participant: string,
    track: string,
    enabled: boolean,
    signal?: AbortSignal,
  ): Promise<TrackRecord> {
    const found = await this.getPublished(accountSid, room, participant, track, signal);
    return settled(
      await this.store.setTrackEnabled(accountSid, found.roomSid, found.participantSid, found.sid, enabled, signal),
      quote(track),
    );
  }

  async unpublish(accountSid: string, room: string, participant: string, track: string, signal?: AbortSignal): Promise<TrackRecord> {
    const found = await this.getPublished(accountSid, room, participant, track, signal);
    return settled(await this.store.unpublishTrack(accountSid, found.roomSid, found.participantSid, found.sid, signal), quote(track));
  }

  async subscribe(accountSid: string, room: string, participant: string, track: string, signal?: AbortSignal): Promise<SubscriptionRecord> {
    const p = await this.participants.get(accountSid, room, participant, signal);
    return settled(await this.store.subscribe(accountSid, p.roomSid, p.sid, trackSidOf(track), signal), quote(track));
  }

  async unsubscribe(
    accountSid: string,
    room: string,
    participant: string,
    track: string,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord> {
    const p = await this.participants.get(accountSid, room, participant, signal);
    return settled(await this.store.unsubscribe(accountSid, p.roomSid, p.sid, trackSidOf(track), signal), quote(track));
  }

  // A published track of the participant, by sid or by name.
  async getPublished(accountSid: string, room: string, participant: string, track: string, signal?: AbortSignal): Promise<TrackRecord> {
    const p = await this.participants.get(accountSid, room, participant, signal);
    const sid = parseSid("MT", track);
    const by = sid !== undefined ? { sid } : { name: checkTrackName(track, "track") };
    const found = await this.store.getPublishedTrack(accountSid, p.roomSid, p.sid, by, signal);
    if (found === undefined) throw trackNotFound(track, p.sid);
    return found;
  }

  // A track the participant subscribes to, by sid only: names are unique
  // per publisher, not per subscriber (as in Twilio).
  async getSubscribed(
    accountSid: string,
    room: string,
    participant: string,
    track: string,
    signal?: AbortSignal,
  ): Promise<SubscriptionRecord> {
    const p = await this.participants.get(accountSid, room, participant, signal);
    const sid = parseSid("MT", track);
    const found = sid === undefined ? undefined : await this.store.getSubscription(accountSid, p.roomSid, p.sid, sid, signal);
    if (found === undefined) throw trackNotFound(track, p.sid);
    return found;
  }

  async *publishedPages(accountSid: string, input: TrackListInput, signal?: AbortSignal): AsyncGenerator<TrackPage<TrackRecord>, void> {
    const p = await this.participants.get(accountSid, input.room, input.participant, signal);
    yield* pages(
      input,
      p.roomSid,
      publishedList,
      (query) => this.store.listPublishedTracks(accountSid, p.roomSid, p.sid, query, signal),
      (t) => ({
        time: t.dateCreated,
        sequence: t.sequence,
        sid: t.sid,
      }),
    );
  }

  async *subscribedPages(
    accountSid: string,
    input: TrackListInput,
    signal?: AbortSignal,
  ): AsyncGenerator<TrackPage<SubscriptionRecord>, void> {
    const p = await this.participants.get(accountSid, input.room, input.participant, signal);
    yield* pages(
      input,
      p.roomSid,
      subscribedList,
      (query) => this.store.listSubscriptions(accountSid, p.roomSid, p.sid, query, signal),
      (s) => ({
        time: s.dateCreated,
        sequence: s.sequence,
        sid: s.track.sid,
      }),
    );
  }

  async getRules(accountSid: string, room: string, participant: string, signal?: AbortSignal): Promise<SubscribeRules> {
    const p = await this.participants.get(accountSid, room, participant, signal);
    const rules = await this.store.getSubscribeRules(accountSid, p.roomSid, p.sid, signal);
    if (rules === undefined) throw new RollcallError("participant_not_found", `no participant ${quote(participant)} in room ${p.roomSid}`);
    return rules;
  }

  // Replaces the rules, given as Twilio's JSON text (REST) or as rules (RPC).
  // Invalid rules change nothing.
  async setRules(
    accountSid: string,
    room: string,
    participant: string,
    rules: string | unknown[] | undefined,
    signal?: AbortSignal,
  ): Promise<SubscribeRules> {
    const checked: SubscribeRule[] = typeof rules === "string" || rules === undefined ? parseRulesJson(rules) : checkRules(rules);
    const p = await this.participants.get(accountSid, room, participant, signal);
    return settled(await this.store.setSubscribeRules(accountSid, p.roomSid, p.sid, checked, signal), quote(participant));
  }
}

async function* pages<T, S extends string>(
  input: TrackListInput,
  roomSid: string,
  listName: readonly S[],
  read: (query: { cursor: Cursor | undefined; limit: number }) => Promise<T[]>,
  cursorOf: (record: T) => Cursor,
): AsyncGenerator<TrackPage<T>, void> {
  const limit = pageSizeOf(input.pageSize);
  let cursor = input.pageToken ? decodePageToken(input.pageToken, listName, undefined, roomSid).cursor : undefined;
  for (;;) {
    const found = await read({ cursor, limit: limit + 1 });
    const items = found.slice(0, limit);
    cursor = found.length > limit ? cursorOf(items.at(-1)!) : undefined;
    yield { items, nextPageToken: cursor ? encodePageToken({ status: listName[0]!, cursor, roomSid }) : "" };
    if (cursor === undefined) return;
  }
}

function trackSidOf(track: string): string {
  const sid = parseSid("MT", track);
  if (sid === undefined) throw invalid("invalid_parameter", "track", `must be a track sid (MT and 32 hex digits), got ${quote(track)}`);
  return sid;
}

function trackNotFound(track: string, participantSid: string): RollcallError {
  return new RollcallError("track_not_found", `no track ${quote(track)} of participant ${participantSid}`);
}

const failures: Record<TrackFailure, (what: string) => RollcallError> = {
  room_not_found: () => new RollcallError("room_not_found", "no such room"),
  room_completed: () => new RollcallError("room_completed", "the room is completed"),
  participant_not_found: () => new RollcallError("participant_not_found", "no such participant"),
  participant_disconnected: () =>
    new RollcallError("participant_disconnected", "the participant is disconnected: it publishes and subscribes no more"),
  track_not_found: (what) =>
    new RollcallError("track_not_found", `no track ${what} (a published track of this room, or for an unsubscribe a track subscribed to)`),
  track_name_taken: (what) => new RollcallError("track_name_taken", `the participant already publishes ${what}`),
  own_track: () => new RollcallError("own_track", "a participant cannot subscribe to its own track"),
};

function settled<T>(outcome: TrackOutcome<T>, what: string): T {
  if ("value" in outcome) return outcome.value;
  throw failures[outcome.kind](what);
}
