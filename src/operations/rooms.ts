import type { RoomRecord, RoomStatus } from "../domain/records.js";
import { roomStatuses } from "../domain/records.js";
import type { NewRoom, Store } from "../store/store.js";
import { checkCallbackUrl } from "./callback-url.js";
import { invalid, quote, RollcallError } from "../domain/errors.js";
import { cutPage, decodePageToken, encodePageToken } from "./page-token.js";
import { checkRange, checkRoomName, pageSizeOf } from "./rules.js";
import { newSid, parseSid } from "./sids.js";

// The status callback of an account's ad-hoc rooms (the credentials file's
// "status_callback" and "status_callback_method" of the account).
export interface AccountCallback {
  url: string;
  method: "GET" | "POST";
}

export interface RoomLimits {
  // The largest max_participants a room may ask for; its default is the
  // smaller of this and 50, Twilio's limit for group rooms.
  maxParticipants: number;
}

export interface CreateRoomInput {
  uniqueName?: string | undefined;
  type?: string | undefined;
  maxParticipants?: number | undefined;
  maxParticipantDuration?: number | undefined;
  emptyRoomTimeout?: number | undefined;
  unusedRoomTimeout?: number | undefined;
  statusCallback?: string | undefined;
  statusCallbackMethod?: string | undefined;
}

export interface ListRoomsInput {
  status?: RoomStatus | undefined;
  uniqueName?: string | undefined;
  dateCreatedAfter?: number | undefined;
  dateCreatedBefore?: number | undefined;
  pageSize?: number | undefined;
  pageToken?: string | undefined;
}

export interface RoomPage {
  rooms: RoomRecord[];
  nextPageToken: string;
}

const roomTypes = ["group", "group-small", "peer-to-peer", "go"];

// Ad-hoc rooms (created by a join) have no timeouts: they end when their last
// participant leaves, and render 0.
const adHocTimeouts = { emptyRoomTimeout: 0, unusedRoomTimeout: 0 };
const callbackMethods = ["GET", "POST"];

export class RoomOperations {
  constructor(
    private readonly store: Store,
    private readonly limits: RoomLimits,
    // By account sid; an account without one creates ad-hoc rooms without a callback.
    private readonly accountCallbacks: ReadonlyMap<string, AccountCallback> = new Map(),
  ) {}

  async create(accountSid: string, input: CreateRoomInput, signal?: AbortSignal): Promise<RoomRecord> {
    const outcome = await this.store.createRoom(this.newRoom(accountSid, input), signal);
    if (outcome.kind === "name_taken") {
      throw invalid("room_exists", "unique_name", `is held by in-progress room ${outcome.existing.sid}`);
    }
    return outcome.room;
  }

  // A room by sid (any status) or by the unique name of an in-progress room.
  async get(accountSid: string, room: string, signal?: AbortSignal): Promise<RoomRecord> {
    if (room === "") throw invalid("invalid_parameter", "room", "is required (a room sid or unique name)");
    const sid = parseSid("RM", room);
    const found =
      sid !== undefined ? await this.store.getRoom(accountSid, sid, signal) : await this.store.findRoomByName(accountSid, room, signal);
    if (found === undefined)
      throw new RollcallError("room_not_found", `no room ${quote(room)} (a room sid, or the unique name of an in-progress room)`);
    return found;
  }

  // The sid of a room named by sid or by the unique name of an in-progress
  // room. A sid is taken as given without a read: the store scopes every call
  // to the account, so a foreign or missing room finds nothing there.
  async sidOf(accountSid: string, room: string, signal?: AbortSignal): Promise<string> {
    return parseSid("RM", room) ?? (await this.get(accountSid, room, signal)).sid;
  }

  // The room a participant joins: by sid, or by name, creating an in-progress
  // room of that name when none exists (ad-hoc rooms).
  async getOrCreate(accountSid: string, room: string, signal?: AbortSignal): Promise<RoomRecord> {
    if (parseSid("RM", room) !== undefined) return this.get(accountSid, room, signal);
    checkRoomName(room, "room");
    const existing = await this.store.findRoomByName(accountSid, room, signal);
    if (existing !== undefined) return existing;
    const callback = this.accountCallbacks.get(accountSid);
    const input = { uniqueName: room, statusCallback: callback?.url, statusCallbackMethod: callback?.method };
    const outcome = await this.store.createRoom(this.newRoom(accountSid, input, "room", adHocTimeouts), signal);
    return outcome.kind === "created" ? outcome.room : outcome.existing;
  }

  async list(accountSid: string, input: ListRoomsInput, signal?: AbortSignal): Promise<RoomPage> {
    const limit = pageSizeOf(input.pageSize);
    const position = input.pageToken ? decodePageToken(input.pageToken, roomStatuses, input.status) : undefined;
    const status = input.status ?? position?.status ?? "in-progress";
    const rooms = await this.store.listRooms(
      accountSid,
      {
        status,
        uniqueName: input.uniqueName || undefined,
        after: input.dateCreatedAfter,
        before: input.dateCreatedBefore,
        cursor: position?.cursor,
        limit: limit + 1,
      },
      signal,
    );
    const { page, next } = cutPage(rooms, limit, status, (room) => room.dateCreated);
    return { rooms: page, nextPageToken: next ? encodePageToken(next) : "" };
  }

  // Completes a room. Only "completed" may be asked for.
  async update(accountSid: string, room: string, status: RoomStatus | undefined, signal?: AbortSignal): Promise<RoomRecord> {
    if (status !== "completed") throw invalid("status_invalid", "status", `must be completed, got ${status ?? "nothing"}`);
    const found = await this.get(accountSid, room, signal);
    const completed = await this.store.completeRoom(accountSid, found.sid, signal);
    if (completed === undefined) throw new RollcallError("room_not_found", `no room ${quote(room)}`);
    return completed;
  }

  // A room as asked for; `timeouts` replaces the timeouts for ad-hoc rooms.
  private newRoom(accountSid: string, input: CreateRoomInput, nameField = "unique_name", timeouts?: typeof adHocTimeouts): NewRoom {
    const sid = newSid("RM");
    const maxParticipants = this.limits.maxParticipants;
    const type = input.type || "group";
    if (!roomTypes.includes(type)) throw invalid("invalid_parameter", "type", `must be one of ${roomTypes.join(", ")}, got ${quote(type)}`);
    const method = (input.statusCallbackMethod || "POST").toUpperCase();
    if (!callbackMethods.includes(method))
      throw invalid(
        "status_callback_method_invalid",
        "status_callback_method",
        `must be GET or POST, got ${quote(input.statusCallbackMethod ?? "")}`,
      );
    return {
      sid,
      accountSid,
      uniqueName: input.uniqueName ? checkRoomName(input.uniqueName, nameField) : sid,
      type,
      maxParticipants: checkRange(
        input.maxParticipants ?? Math.min(50, maxParticipants),
        1,
        maxParticipants,
        "max_participants",
        "max_participants_out_of_range",
      ),
      maxParticipantDuration: checkRange(
        input.maxParticipantDuration ?? 14400,
        600,
        86400,
        "max_participant_duration",
        "max_participant_duration_out_of_range",
      ),
      ...(timeouts ?? {
        emptyRoomTimeout: checkRange(input.emptyRoomTimeout ?? 5, 1, 60, "empty_room_timeout", "timeout_out_of_range"),
        unusedRoomTimeout: checkRange(input.unusedRoomTimeout ?? 5, 1, 60, "unused_room_timeout", "timeout_out_of_range"),
      }),
      statusCallback: checkCallbackUrl(input.statusCallback ?? ""),
      statusCallbackMethod: method,
    };
  }
}
