import { durationSeconds } from "../../operations/duration.js";
import type { ParticipantRecord, RoomRecord, SubscribeRules, SubscriptionRecord, TrackRecord } from "../../domain/records.js";

// Twilio's JSON for rooms and participants: snake_case keys, dates to the
// second in UTC, null for absent values, absolute URLs.

export function twilioDate(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString().slice(0, 19) + "Z";
}

function roomUrl(base: string, roomSid: string): string {
  return `${base}/v1/Rooms/${roomSid}`;
}

export function participantJson(p: ParticipantRecord, base: string) {
  const url = `${roomUrl(base, p.roomSid)}/Participants/${p.sid}`;
  return {
    sid: p.sid,
    room_sid: p.roomSid,
    account_sid: p.accountSid,
    status: p.status,
    identity: p.identity,
    date_created: twilioDate(p.startTime),
    date_updated: twilioDate(p.dateUpdated),
    start_time: twilioDate(p.startTime),
    end_time: twilioDate(p.endTime),
    duration: durationSeconds(p.startTime, p.endTime) ?? null,
    url,
    links: {
      published_tracks: `${url}/PublishedTracks`,
      subscribed_tracks: `${url}/SubscribedTracks`,
      subscribe_rules: `${url}/SubscribeRules`,
      anonymize: `${url}/Anonymize`,
    },
  };
}

function participantUrl(base: string, roomSid: string, participantSid: string): string {
  return `${roomUrl(base, roomSid)}/Participants/${participantSid}`;
}

export function publishedTrackJson(t: TrackRecord, base: string) {
  return {
    sid: t.sid,
    participant_sid: t.participantSid,
    room_sid: t.roomSid,
    name: t.name,
    date_created: twilioDate(t.dateCreated),
    date_updated: twilioDate(t.dateUpdated),
    enabled: t.enabled,
    kind: t.kind,
    url: `${participantUrl(base, t.roomSid, t.participantSid)}/PublishedTracks/${t.sid}`,
  };
}

// A subscription shows the track as it is now; it was created when the
// subscription started and last updated then or when the track last changed.
export function subscribedTrackJson(s: SubscriptionRecord, base: string) {
  const { track } = s;
  return {
    sid: track.sid,
    participant_sid: s.participantSid,
    publisher_sid: track.participantSid,
    room_sid: track.roomSid,
    name: track.name,
    date_created: twilioDate(s.dateCreated),
    date_updated: twilioDate(Math.max(s.dateCreated, track.dateUpdated)),
    enabled: track.enabled,
    kind: track.kind,
    url: `${participantUrl(base, track.roomSid, s.participantSid)}/SubscribedTracks/${track.sid}`,
  };
}

// Every rule lists all six of Twilio's fields, null when not given; the
// dates are null until the rules are first updated.
export function subscribeRulesJson(r: SubscribeRules) {
  return {
    participant_sid: r.participantSid,
    room_sid: r.roomSid,
    rules: r.rules.map((rule) => ({
      type: rule.type,
      all: rule.all ?? null,
      publisher: rule.publisher ?? null,
      track: rule.track ?? null,
      kind: rule.kind ?? null,
      priority: rule.priority ?? null,
    })),
    date_created: twilioDate(r.dateCreated),
    date_updated: twilioDate(r.dateUpdated),
  };
}

// Media settings that rollcall does not manage are present and null.
export function roomJson(r: RoomRecord, base: string) {
  const url = roomUrl(base, r.sid);
  return {
    sid: r.sid,
    status: r.status,
    date_created: twilioDate(r.dateCreated),
    date_updated: twilioDate(r.dateUpdated),
    account_sid: r.accountSid,
    enable_turn: null,
    unique_name: r.uniqueName,
    status_callback: r.statusCallback || null,
    status_callback_method: r.statusCallbackMethod,
    end_time: twilioDate(r.endTime),
    duration: durationSeconds(r.dateCreated, r.endTime) ?? null,
    type: r.type,
    max_participants: r.maxParticipants,
    max_participant_duration: r.maxParticipantDuration,
    max_concurrent_published_tracks: null,
    record_participants_on_connect: null,
    video_codecs: null,
    media_region: null,
    audio_only: null,
    empty_room_timeout: r.emptyRoomTimeout,
    unused_room_timeout: r.unusedRoomTimeout,
    large_room: null,
    url,
    links: {
      participants: `${url}/Participants`,
      recordings: `${url}/Recordings`,
      recording_rules: `${url}/RecordingRules`,
      transcriptions: `${url}/Transcriptions`,
    },
  };
}

export interface ListPage {
  // Path of the list, from /v1 on.
  path: string;
  // Filters as the caller gave them, repeated in every page URL.
  filters: [string, string][];
  page: number;
  pageSize: number;
  pageToken: string | undefined;
  nextPageToken: string;
}

// Twilio's list meta. Page tokens only lead forward, so the previous page is
// known only on page 1, whose previous page is the first.
export function listMeta(base: string, key: string, list: ListPage) {
  const at = (page: number, token: string | undefined) => {
    const query = new URLSearchParams(list.filters);
    query.set("PageSize", String(list.pageSize));
    query.set("Page", String(page));
    if (token) query.set("PageToken", token);
    return `${base}${list.path}?${query}`;
  };
  return {
    page: list.page,
    page_size: list.pageSize,
    first_page_url: at(0, undefined),
    previous_page_url: list.page === 1 ? at(0, undefined) : null,
    url: at(list.page, list.pageToken),
    next_page_url: list.nextPageToken ? at(list.page + 1, list.nextPageToken) : null,
    key,
  };
}
