import { type DescMessage, type DescMethod, fromBinary, fromJsonString, isMessage, type MessageShape } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { ParticipantService, ParticipantStatus } from "../../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../../gen/rollcall/v1/room_pb.js";
import { stringField, varintField } from "../../support/wire/protobuf.js";

// What exists on the server under test (a seeded room and its participants),
// the RPC methods and, for each, which requests it must refuse.

export interface World {
  room: { name: string; sid: string };
  // Identities and sids of the seeded participants.
  participants: string[];
  targets: RpcTarget[];
}

// An RPC method, and how to make sure a request to it fails: poison is a
// field that makes any request fail (in protobuf the last value of a field
// wins, so it can be appended to any message), and fails() tells whether a
// request decoded as the method's input surely fails. A random body the server could decode into a
// request that succeeds is no malformed request, and could change the data.
export interface RpcTarget {
  method: DescMethod;
  path: string;
  poison: { binary: Buffer; json: Record<string, unknown> };
  fails(request: unknown): boolean;
}

export function shortName(target: RpcTarget): string {
  return `${target.method.parent.name}/${target.method.name}`;
}

export function rpcTargets(world: Omit<World, "targets">): RpcTarget[] {
  const seeded = (room: string) => room === world.room.name || room.toUpperCase() === world.room.sid.toUpperCase();
  const roomEmpty = { binary: stringField(1, ""), json: { room: "" } };
  const m = { p: ParticipantService.method, r: RoomService.method };
  const target = <I extends DescMessage>(
    method: DescMethod & { input: I },
    poison: RpcTarget["poison"],
    fails: (request: MessageShape<I>) => boolean,
  ): RpcTarget => ({
    method,
    path: `/${method.parent.typeName}/${method.name}`,
    poison,
    fails: (request) => {
      if (!isMessage(request, method.input)) throw new Error(`${method.name} was given a request that is no ${method.input.typeName}`);
      return fails(request);
    },
  });
  return [
    target(m.p.join, { binary: stringField(2, ""), json: { identity: "" } }, (r) => badName(r.identity)),
    target(m.p.get, roomEmpty, (r) => !seeded(r.room) || r.participant === ""),
    target(m.p.update, roomEmpty, (r) => !seeded(r.room) || r.status !== ParticipantStatus.DISCONNECTED),
    target(
      m.p.list,
      { binary: stringField(7, "!"), json: { pageToken: "!" } },
      (r) =>
        !seeded(r.room) ||
        badPageToken(r.pageToken) ||
        badPageSize(r.pageSize) ||
        badEnum(r.status) ||
        (r.identity !== "" && badName(r.identity)) ||
        badTimestamp(r.dateCreatedAfter) ||
        badTimestamp(r.dateCreatedBefore),
    ),
    target(
      m.r.create,
      { binary: varintField(3, 0), json: { maxParticipants: 0 } },
      (r) =>
        outside(r.maxParticipants, 1, 50) ||
        outside(r.emptyRoomTimeout, 1, 60) ||
        outside(r.unusedRoomTimeout, 1, 60) ||
        outside(r.maxParticipantDuration, 600, 86_400) ||
        (r.type !== "" && !["group", "group-small", "peer-to-peer", "go"].includes(r.type)),
    ),
    target(m.r.get, roomEmpty, (r) => !seeded(r.room)),
    target(
      m.r.list,
      { binary: stringField(6, "!"), json: { pageToken: "!" } },
      (r) =>
        badPageToken(r.pageToken) ||
        badPageSize(r.pageSize) ||
        badEnum(r.status) ||
        badTimestamp(r.dateCreatedAfter) ||
        badTimestamp(r.dateCreatedBefore),
    ),
    target(m.r.update, roomEmpty, (r) => !seeded(r.room) || r.status !== RoomStatus.COMPLETED),
  ];
}

export function badName(name: string): boolean {
  return name === "" || [...name].length > 128 || /\p{Cc}|\p{Cs}/u.test(name);
}

export function badPageToken(token: string): boolean {
  return token !== "" && !/^[a-z-]+\.\d{1,13}\.(RM|PA)[0-9a-f]{32}$/.test(Buffer.from(token, "base64url").toString("latin1"));
}

export function badPageSize(size: number): boolean {
  return size < 0 || size > 1000;
}

export function badEnum(value: number): boolean {
  return value < 0 || value > 3;
}

export function outside(value: number | undefined, min: number, max: number): boolean {
  return value !== undefined && (value < min || value > max);
}

// Outside google.protobuf.Timestamp's range (0001-01-01 to 9999-12-31, nanos
// below a second), which JSON decoding refuses and binary decoding lets through.
export function badTimestamp(timestamp: Timestamp | undefined): boolean {
  if (timestamp === undefined) return false;
  return (
    timestamp.seconds < -62_135_596_800n || timestamp.seconds > 253_402_300_799n || timestamp.nanos < 0 || timestamp.nanos > 999_999_999
  );
}

// Whether the server must refuse this body however it reads it: as protobuf
// or JSON, and after gunzip or brotli if it decompresses.
export function refused(target: RpcTarget, body: Uint8Array): boolean {
  return [body, ...decompressed(body)].every((bytes) => decodings(target, bytes).every((request) => target.fails(request)));
}

export function decodings(target: RpcTarget, bytes: Uint8Array): unknown[] {
  const input = target.method.input;
  const found: unknown[] = [];
  // The server decodes as connect-node does: JSON leniently as UTF-8, unknown keys ignored.
  for (const decode of [
    () => fromBinary(input, bytes),
    () => fromJsonString(input, new TextDecoder().decode(bytes), { ignoreUnknownFields: true }),
  ]) {
    try {
      found.push(decode());
    } catch {
      // Refused by the decoder, as it will be by the server.
    }
  }
  return found;
}

export function decompressed(bytes: Uint8Array): Uint8Array[] {
  const found: Uint8Array[] = [];
  for (const decompress of [gunzipSync, brotliDecompressSync]) {
    try {
      found.push(decompress(bytes));
    } catch {
      // Not compressed that way.
    }
  }
  return found;
}
