import type { ParticipantOperations } from "../../operations/participants.js";
import type { RoomOperations } from "../../operations/rooms.js";
import type { TrackOperations } from "../../operations/tracks.js";
import { invalid } from "../../domain/errors.js";
import { defaultPageSize } from "../../operations/rules.js";
import { participantStatuses, roomStatuses } from "../../domain/records.js";
import type { Params } from "./params.js";
import { listMeta, participantJson, publishedTrackJson, roomJson, subscribedTrackJson, subscribeRulesJson } from "./render.js";

// The Twilio Video v1 routes rollcall answers. Each parses Twilio's
// parameters, calls the operation the RPC services call too, and renders
// Twilio's JSON.

export interface RestCall {
  accountSid: string;
  // Path arguments, percent-decoded, by name.
  args: Record<string, string>;
  params: Params;
  // Absolute base URL for links: PUBLIC_URL, or this request's scheme and host.
  base: string;
  // The request path from /v1 on, without a trailing slash.
  path: string;
  // Aborted when the client goes away: the operation stops before its next store command.
  signal: AbortSignal;
}

export interface RestReply {
  status: number;
  body: unknown;
}

type Action = (call: RestCall) => Promise<RestReply>;

export interface Route {
  // Literal segments, and ":name" for an argument.
  pattern: string[];
  methods: Partial<Record<string, Action>>;
}

export function restRoutes(participants: ParticipantOperations, rooms: RoomOperations, tracks: TrackOperations): Route[] {
  return [
    {
      pattern: ["Rooms"],
      methods: {
        GET: async ({ accountSid, signal, params, base, path }) => {
          const list = listing(params, ["Status", "UniqueName", "DateCreatedAfter", "DateCreatedBefore"]);
          const page = await rooms.list(
            accountSid,
            {
              status: params.oneOf("Status", roomStatuses),
              uniqueName: params.string("UniqueName"),
              dateCreatedAfter: params.date("DateCreatedAfter"),
              dateCreatedBefore: params.date("DateCreatedBefore"),
              pageSize: list.pageSize,
              pageToken: list.pageToken,
            },
            signal,
          );
          return ok({
            rooms: page.rooms.map((room) => roomJson(room, base)),
            meta: listMeta(base, "rooms", { ...list, path, nextPageToken: page.nextPageToken }),
          });
        },
        POST: async ({ accountSid, signal, params, base }) => {
          const room = await rooms.create(
            accountSid,
            {
              uniqueName: params.string("UniqueName"),
              type: params.string("Type"),
              maxParticipants: params.integer("MaxParticipants"),
              maxParticipantDuration: params.integer("MaxParticipantDuration"),
              emptyRoomTimeout: params.integer("EmptyRoomTimeout"),
              unusedRoomTimeout: params.integer("UnusedRoomTimeout"),
              statusCallback: params.string("StatusCallback"),
              statusCallbackMethod: params.string("StatusCallbackMethod"),
            },
            signal,
          );
          return { status: 201, body: roomJson(room, base) };
        },
      },
    },
    {
      pattern: ["Rooms", ":room"],
      methods: {
        GET: async ({ accountSid, signal, args, base }) => ok(roomJson(await rooms.get(accountSid, arg(args, "room"), signal), base)),
        POST: async ({ accountSid, signal, args, params, base }) => {
          const room = await rooms.update(accountSid, arg(args, "room"), params.oneOf("Status", roomStatuses), signal);
          return { status: 202, body: roomJson(room, base) };
        },
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants"],
      methods: {
        GET: async ({ accountSid, signal, args, params, base, path }) => {
          const list = listing(params, ["Status", "Identity", "DateCreatedAfter", "DateCreatedBefore"]);
          const page = await participants.list(
            accountSid,
            {
              room: arg(args, "room"),
              status: params.oneOf("Status", participantStatuses),
              identity: params.string("Identity"),
              dateCreatedAfter: params.date("DateCreatedAfter"),
              dateCreatedBefore: params.date("DateCreatedBefore"),
              pageSize: list.pageSize,
              pageToken: list.pageToken,
            },
            signal,
          );
          return ok({
            participants: page.participants.map((p) => participantJson(p, base)),
            meta: listMeta(base, "participants", { ...list, path, nextPageToken: page.nextPageToken }),
          });
        },
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant"],
      methods: {
        GET: async ({ accountSid, signal, args, base }) =>
          ok(participantJson(await participants.get(accountSid, arg(args, "room"), arg(args, "participant"), signal), base)),
        POST: async ({ accountSid, signal, args, params, base }) => {
          const status = params.oneOf("Status", participantStatuses);
          const participant = await participants.update(accountSid, arg(args, "room"), arg(args, "participant"), status, signal);
          return { status: 202, body: participantJson(participant, base) };
        },
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "Anonymize"],
      methods: {
        POST: async ({ accountSid, signal, args, base }) =>
          ok(participantJson(await participants.anonymize(accountSid, arg(args, "room"), arg(args, "participant"), signal), base)),
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "PublishedTracks"],
      methods: {
        GET: async ({ accountSid, signal, args, params, base, path }) => {
          const list = listing(params, []);
          const pages = tracks.publishedPages(
            accountSid,
            {
              room: arg(args, "room"),
              participant: arg(args, "participant"),
              pageSize: list.pageSize,
              pageToken: list.pageToken,
            },
            signal,
          );
          const page = (await pages.next()).value!;
          return ok({
            published_tracks: page.items.map((t) => publishedTrackJson(t, base)),
            meta: listMeta(base, "published_tracks", { ...list, path, nextPageToken: page.nextPageToken }),
          });
        },
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "PublishedTracks", ":track"],
      methods: {
        GET: async ({ accountSid, signal, args, base }) =>
          ok(
            publishedTrackJson(
              await tracks.getPublished(accountSid, arg(args, "room"), arg(args, "participant"), arg(args, "track"), signal),
              base,
            ),
          ),
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "SubscribedTracks"],
      methods: {
        GET: async ({ accountSid, signal, args, params, base, path }) => {
          const list = listing(params, []);
          const pages = tracks.subscribedPages(
            accountSid,
            {
              room: arg(args, "room"),
              participant: arg(args, "participant"),
              pageSize: list.pageSize,
              pageToken: list.pageToken,
            },
            signal,
          );
          const page = (await pages.next()).value!;
          return ok({
            subscribed_tracks: page.items.map((s) => subscribedTrackJson(s, base)),
            meta: listMeta(base, "subscribed_tracks", { ...list, path, nextPageToken: page.nextPageToken }),
          });
        },
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "SubscribedTracks", ":track"],
      methods: {
        GET: async ({ accountSid, signal, args, base }) =>
          ok(
            subscribedTrackJson(
              await tracks.getSubscribed(accountSid, arg(args, "room"), arg(args, "participant"), arg(args, "track"), signal),
              base,
            ),
          ),
      },
    },
    {
      pattern: ["Rooms", ":room", "Participants", ":participant", "SubscribeRules"],
      methods: {
        GET: async ({ accountSid, signal, args }) =>
          ok(subscribeRulesJson(await tracks.getRules(accountSid, arg(args, "room"), arg(args, "participant"), signal))),
        POST: async ({ accountSid, signal, args, params }) =>
          ok(
            subscribeRulesJson(
              await tracks.setRules(accountSid, arg(args, "room"), arg(args, "participant"), params.string("Rules"), signal),
            ),
          ),
      },
    },
  ];
}

export function matchRoute(routes: Route[], segments: string[]): { route: Route; args: Record<string, string> } | undefined {
  for (const route of routes) {
    if (route.pattern.length !== segments.length) continue;
    const args: Record<string, string> = {};
    const matches = route.pattern.every((part, i) => {
      if (part.startsWith(":")) {
        args[part.slice(1)] = segments[i]!;
        return segments[i] !== "";
      }
      return part === segments[i];
    });
    if (matches) return { route, args };
  }
  return undefined;
}

// A path argument of the matched route. matchRoute binds every ":name" of
// the pattern, so a missing one is a route that reads a name its pattern lacks.
function arg(args: Record<string, string>, name: string): string {
  const value = args[name];
  if (value === undefined) throw new Error(`the route's pattern has no :${name} argument`);
  return value;
}

function ok(body: unknown): RestReply {
  return { status: 200, body };
}

// The paging parameters of a list request, and its filters as given, to
// repeat in the URLs of other pages.
function listing(params: Params, filterNames: string[]) {
  const page = params.integer("Page") ?? 0;
  if (page < 0) throw invalid("invalid_parameter", "Page", `must not be negative, got ${page}`);
  const filters: [string, string][] = [];
  for (const name of filterNames) {
    const value = params.string(name);
    if (value !== undefined && value !== "") filters.push([name, value]);
  }
  const pageSize = params.integer("PageSize");
  return { page, filters, pageSize: pageSize ?? defaultPageSize, pageToken: params.string("PageToken") || undefined };
}
