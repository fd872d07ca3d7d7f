import type { DisconnectReason, ParticipantRecord, ParticipantStatus } from "../domain/records.js";
import { encodeEventCursor } from "./event-cursor.js";
import { participantStatuses } from "../domain/records.js";
import type { Store } from "../store/store.js";
import { invalid, quote, RollcallError } from "../domain/errors.js";
import { cutPage, decodePageToken, encodePageToken } from "./page-token.js";
import type { RoomOperations } from "./rooms.js";
import { checkIdentity, pageSizeOf } from "./rules.js";
import { newSid, parseSid } from "./sids.js";

export interface JoinResult {
  participant: ParticipantRecord;
  // The present participant with the same identity that this join disconnected.
  displaced: ParticipantRecord | undefined;
}

export interface ListParticipantsInput {
  room: string;
  status?: ParticipantStatus | undefined;
  identity?: string | undefined;
  dateCreatedAfter?: number | undefined;
  dateCreatedBefore?: number | undefined;
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface ParticipantPage {
  participants: ParticipantRecord[];
  nextPageToken: string;
  // Watching the room from this cursor continues exactly after the state this page saw.
  watchCursor: string;
}

// A join whose room completes between finding the room by name and joining
// it retries once, so it lands in the next room of that name.
const joinAttempts = 2;

export class ParticipantOperations {
  constructor(
    private readonly store: Store,
    private readonly rooms: RoomOperations,
  ) {}

  async join(accountSid: string, room: string, identity: string, signal?: AbortSignal): Promise<JoinResult> {
    checkIdentity(identity);
    // Anonymize makes a participant's identity its sid, and lookups read a
    // sid-shaped name as a sid: a joining identity of that shape would collide.
    if (parseSid("PA", identity) !== undefined)
      throw invalid("identity_invalid", "identity", "must not have the form of a participant sid");
    for (let attempt = 1; ; attempt++) {
      const target = await this.rooms.getOrCreate(accountSid, room, signal);
      const outcome = await this.store.join(accountSid, target.sid, newSid("PA"), identity, signal);
      switch (outcome.kind) {
        case "joined":
          return { participant: outcome.participant, displaced: outcome.displaced };
        case "room_full":
          throw new RollcallError("room_full", `room ${target.sid} already holds its max_participants (${outcome.maxParticipants})`);
        case "room_not_found":
          throw new RollcallError("room_not_found", `no room ${quote(room)}`);
        case "room_completed":
          if (parseSid("RM", room) === undefined && attempt < joinAttempts) continue;
          throw new RollcallError("room_completed", `room ${target.sid} is completed`);
      }
    }
  }

  // A participant by sid (any status) or by the identity of a present one.
  async get(accountSid: string, room: string, participant: string, signal?: AbortSignal): Promise<ParticipantRecord> {
    return this.find(accountSid, await this.rooms.sidOf(accountSid, room, signal), participant, signal);
  }

  // Kicks a participant through the API. Only "disconnected" may be asked
  // for; a disconnected participant comes back unchanged.
  async update(
    accountSid: string,
    room: string,
    participant: string,
    status: ParticipantStatus | undefined,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord> {
    if (status !== "disconnected") throw invalid("status_invalid", "status", `must be disconnected, got ${status ?? "nothing"}`);
    return this.disconnect(accountSid, room, participant, "kicked", signal);
  }

  // Records that a participant left, as the media plane reports it.
  async leave(accountSid: string, room: string, participant: string, signal?: AbortSignal): Promise<ParticipantRecord> {
    return this.disconnect(accountSid, room, participant, "left", signal);
  }

  // Replaces a participant's identity with its sid, removing the one piece of
  // personal data rollcall keeps about it.
  async anonymize(accountSid: string, room: string, participant: string, signal?: AbortSignal): Promise<ParticipantRecord> {
    const { roomSid, sid } = await this.sidsOf(accountSid, room, participant, signal);
    const anonymized = await this.store.anonymizeParticipant(accountSid, roomSid, sid, signal);
    if (anonymized === undefined) throw notFound(participant, roomSid);
    return anonymized;
  }

  // One page of a room's participants.
  async list(accountSid: string, input: ListParticipantsInput, signal?: AbortSignal): Promise<ParticipantPage> {
    const first = await this.pages(accountSid, input, signal).next();
    return first.value!;
  }

  // Every page of a room's participants from the given position on, read one
  // page at a time so a consumer that stops early costs nothing more. The room
  // and the status are settled once, before the first page.
  async *pages(accountSid: string, input: ListParticipantsInput, signal?: AbortSignal): AsyncGenerator<ParticipantPage, void> {
    const limit = pageSizeOf(input.pageSize);
    const identity = input.identity ? checkIdentity(input.identity) : undefined;
    const room = await this.rooms.get(accountSid, input.room, signal);
    let position = input.pageToken ? decodePageToken(input.pageToken, participantStatuses, input.status, room.sid) : undefined;
    const status = input.status ?? position?.status ?? (room.status === "in-progress" ? "connected" : "disconnected");
    for (;;) {
      const listing = await this.store.listParticipants(
        accountSid,
        room.sid,
        {
          status,
          identity,
          after: input.dateCreatedAfter,
          before: input.dateCreatedBefore,
          cursor: position?.cursor,
          limit: limit + 1,
        },
        signal,
      );
      const { page, next } = cutPage(listing.participants, limit, status, (p) => p.startTime, room.sid);
      position = next;
      yield {
        participants: page,
        nextPageToken: position ? encodePageToken(position) : "",
        watchCursor: encodeEventCursor({ accountSid, roomSid: room.sid, logIds: [listing.logId] }),
      };
      if (position === undefined) return;
    }
  }

  private async disconnect(
    accountSid: string,
    room: string,
    participant: string,
    reason: DisconnectReason,
    signal?: AbortSignal,
  ): Promise<ParticipantRecord> {
    const { roomSid, sid } = await this.sidsOf(accountSid, room, participant, signal);
    const disconnected = await this.store.disconnectParticipant(accountSid, roomSid, sid, reason, signal);
    if (disconnected === undefined) throw notFound(participant, roomSid);
    return disconnected;
  }

  // The sids of a room and of a participant in it; a participant named by sid
  // is taken as given, as the store's change will find it or not.
  private async sidsOf(
    accountSid: string,
    room: string,
    participant: string,
    signal?: AbortSignal,
  ): Promise<{ roomSid: string; sid: string }> {
    const roomSid = await this.rooms.sidOf(accountSid, room, signal);
    return { roomSid, sid: parseSid("PA", participant) ?? (await this.find(accountSid, roomSid, participant, signal)).sid };
  }

  private async find(accountSid: string, roomSid: string, participant: string, signal?: AbortSignal): Promise<ParticipantRecord> {
    if (participant === "") throw invalid("invalid_parameter", "participant", "is required (a participant sid or identity)");
    const sid = parseSid("PA", participant);
    const found =
      sid !== undefined
        ? await this.store.getParticipant(accountSid, roomSid, sid, signal)
        : await this.store.findPresentParticipant(accountSid, roomSid, checkIdentity(participant, "participant"), signal);
    if (found === undefined) throw notFound(participant, roomSid);
    return found;
  }
}

function notFound(participant: string, roomSid: string): RollcallError {
  return new RollcallError(
    "participant_not_found",
    `no participant ${quote(participant)} in room ${roomSid} (a participant sid, or the identity of a present participant)`,
  );
}
