import type { errorBody } from "../../src/transports/rest/errors.js";
import type { listMeta, participantJson, roomJson } from "../../src/transports/rest/render.js";

// The JSON bodies of the Twilio REST API as rollcall renders them, so that a
// test reads their keys with types; the tests check the values themselves.
export type ParticipantJson = ReturnType<typeof participantJson>;
export type RoomJson = ReturnType<typeof roomJson>;
export type ListMetaJson = ReturnType<typeof listMeta>;
export type ErrorJson = ReturnType<typeof errorBody>;

export interface ParticipantPageJson {
  participants: ParticipantJson[];
  meta: ListMetaJson;
}

export interface RoomPageJson {
  rooms: RoomJson[];
  meta: ListMetaJson;
}
