import { create, fromBinary, fromJsonString, ScalarType, toBinary, type DescField, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type { Client } from "@connectrpc/connect";
import { expect } from "chai";
import { randomInt } from "node:crypto";
import http2 from "node:http2";
import net from "node:net";
import { brotliDecompressSync, gunzipSync, gzipSync } from "node:zlib";
import { ParticipantService, ParticipantStatus } from "../../gen/rollcall/v1/participant_pb.js";
import { RoomService, RoomStatus } from "../../gen/rollcall/v1/room_pb.js";
import type { Config } from "../../src/config.js";
import { collect, connectJsonHttp1 } from "../support/clients.js";
import { emptySharedRedis, type SharedRedis } from "../support/fixtures.js";
import { basic, otherAuthorization, startRollcall, testAccount, testAuthorization } from "../support/rollcall.js";

// Malformed requests, thrown at every transport of one server: REST and
// Connect over HTTP/1.1 and HTTP/2, gRPC-Web, gRPC on the main port and on the
// grpc-js port. Each reply must be a client error, none may hang, the server
// must keep answering, and the stored data must stay as it was.
//
// The inputs come from a seeded generator. A failure names its seed:
// FUZZ_SEED=<seed> npx mocha --grep fuzz replays the run, and FUZZ_SCALE=<k>
// sends k times as many requests. FUZZ_STRICT=1 also fails on the library
// deviations listed in knownDeviations.

const seed = seedFromEnv();
const scale = scaleFromEnv();
const strict = process.env.FUZZ_STRICT === "1";
const maxRequestBytes = 256 * 1024;
const timeoutMs = 5000;
// Requests in flight at once: enough to keep the run short, few enough that
// none waits on another long enough to look like a hang.
const concurrency = 16;

// Connect and gRPC codes by number; the ones a client causes are client errors.
const codeNames = [
  "ok", "canceled", "unknown", "invalid_argument", "deadline_exceeded", "not_found", "already_exists", "permission_denied", "resource_exhausted",
  "failed_precondition", "aborted", "out_of_range", "unimplemented", "internal", "unavailable", "data_loss", "unauthenticated",
];
const clientCodes = new Set([
  "invalid_argument", "not_found", "unauthenticated", "resource_exhausted", "failed_precondition", "already_exists", "unimplemented", "out_of_range",
  "permission_denied", "canceled",
]);

// Replies that break the rule inside a library, where rollcall's own code
// never sees the request. They are counted in the summary, not failed,
// unless FUZZ_STRICT=1.
const knownDeviations: { code: string; message: RegExp; name: string }[] = [
  // @connectrpc/connect createBinarySerialization reports an undecodable
  // protobuf message as internal, where an undecodable JSON one is invalid_argument.
  { code: "internal", message: /^parse binary: /, name: "connect-es: undecodable protobuf is internal" },
  // @connectrpc/connect envelopeDecompress: the compressed flag without an
  // encoding is internal, as the gRPC spec asks.
  { code: "internal", message: /^received compressed envelope, but do not know how to decompress$/, name: "connect-es: compressed flag without encoding is internal" },
  // @connectrpc/connect-node wrapZLibErrors: only Z_DATA_ERROR is
  // invalid_argument; a gzip body cut short (Z_BUF_ERROR) or some bad brotli is internal.
  { code: "internal", message: /^decompression failed$/, name: "connect-node: truncated gzip is internal" },
  // nghttp2, Node's HTTP/2: a header field over 64 KiB resets the stream with
  // COMPRESSION_ERROR, which gRPC clients read as internal.
  { code: "internal", message: /^RST_STREAM with error code 9$/, name: "nghttp2: header field over 64 KiB resets the stream" },
  // @grpc/grpc-js server: a frame that does not gunzip is internal.
  { code: "internal", message: /^Failed to decompress message$/, name: "grpc-js: bad gzip is internal" },
  // @grpc/grpc-js server: a malformed grpc-timeout header is internal.
  { code: "internal", message: /^Invalid grpc-timeout value/, name: "grpc-js: malformed grpc-timeout is internal" },
  // @grpc/grpc-js server matches grpc-timeout unanchored, so a malformed
  // value such as 1000000000S reads as 0 seconds.
  { code: "deadline_exceeded", message: /^Deadline exceeded$/, name: "grpc-js: malformed grpc-timeout read as 0" },
];

// A hang, tolerated like the deviations above where a case knows it will
// meet it: gRPC and gRPC-Web on the main port put the error message into
// grpc-message with encodeURIComponent (@connectrpc/connect setTrailerStatus),
// which throws on a lone surrogate, and the call is never answered. JSON.parse
// quotes a +json body in its messages, cutting emoji in half.
const unansweredJsonError = "connect-es: lone surrogate in grpc-message, never answered";

// ---------------------------------------------------------------- randomness

class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  // mulberry32: 32 bits of state, spread well enough to choose test inputs.
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    for (let i = 0; i < length; i++) bytes[i] = this.int(256);
    return bytes;
  }

  // Mostly small, now and then large: most parsing bugs show at small sizes.
  size(): number {
    return this.chance(0.85) ? this.int(48) : this.int(4096);
  }

  hex(digits: number): string {
    let text = "";
    for (let i = 0; i < digits; i++) text += "0123456789abcdef"[this.int(16)];
    return text;
  }
}

// Each transport draws from its own stream, so its cases do not depend on
// which other transports run (mocha --grep) or in which order.
function randomFor(name: string): Random {
  let hash = 0x811c9dc5;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193);
  return new Random(seed ^ hash);
}

function seedFromEnv(): number {
  const text = process.env.FUZZ_SEED;
  if (text === undefined || text === "") return randomInt(2 ** 32);
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** 32) throw new Error(`FUZZ_SEED must be an integer from 0 to 4294967295, got ${text}`);
  return value;
}

function scaleFromEnv(): number {
  const value = Number(process.env.FUZZ_SCALE ?? "1");
  if (!(value > 0)) throw new Error(`FUZZ_SCALE must be a positive number, got ${process.env.FUZZ_SCALE}`);
  return value;
}

// ---------------------------------------------------------------- the wire

interface WireRequest {
  http: 1 | 2;
  port: "main" | "grpc";
  method: string;
  // As sent; for HTTP/1.1 written byte for byte (latin1).
  path: string;
  headers: [string, string][];
  body: Buffer;
  // HTTP/1.1 only: the case writes its own framing headers, so no content-length is added.
  ownFraming?: boolean;
}

interface Exchange {
  status: number;
  headers: Record<string, string>;
  trailers: Record<string, string>;
  body: Buffer;
}

// A reset is how an HTTP/2 server refuses a stream it will not read, e.g.
// one with too many headers.
type Outcome = Exchange | { reset: number } | { failure: string };

interface Ports {
  main: number;
  grpc: number;
}

function send(request: WireRequest, ports: Ports): Promise<Outcome> {
  const port = ports[request.port];
  return request.http === 1 ? http1(port, request) : http2Request(port, request);
}

// HTTP/1.1 written by hand over a socket, so that the request line, the
// headers and the framing can be anything, as no HTTP client would send them.
function http1(port: number, request: WireRequest): Promise<Outcome> {
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `host: 127.0.0.1:${port}`, ...request.headers.map(([name, value]) => `${name}: ${value}`)];
  if (!request.ownFraming) lines.push(`content-length: ${request.body.length}`);
  lines.push("connection: close", "", "");
  const bytes = Buffer.concat([Buffer.from(lines.join("\r\n"), "latin1"), request.body]);
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ failure: `no reply within ${timeoutMs} ms` }), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      const exchange = parseHttp1(Buffer.concat(chunks), request.method === "HEAD", false);
      if (exchange !== undefined) settle(exchange);
    });
    // A reset after the server refused a large body is fine once the reply is in.
    socket.on("error", () => {});
    socket.on("close", () => settle(parseHttp1(Buffer.concat(chunks), request.method === "HEAD", true) ?? { failure: "the connection closed without a reply" }));
    socket.write(bytes);
  });
}

// The reply in bytes, once it is complete (or the connection has ended).
function parseHttp1(bytes: Buffer, head: boolean, ended: boolean): Exchange | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) return undefined;
  const [statusLine, ...lines] = bytes.subarray(0, end).toString("latin1").split("\r\n");
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? "")?.[1] ?? 0);
  const headers = headerFields(lines);
  const rest = bytes.subarray(end + 4);
  if (head) return { status, headers, trailers: {}, body: Buffer.alloc(0) };
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
    const chunked = dechunk(rest);
    if (chunked !== undefined) return { status, headers, ...chunked };
    return ended ? { status, headers, trailers: {}, body: rest } : undefined;
  }
  const length = headers["content-length"] === undefined ? undefined : Number(headers["content-length"]);
  if (length !== undefined && rest.length >= length) return { status, headers, trailers: {}, body: rest.subarray(0, length) };
  return ended ? { status, headers, trailers: {}, body: rest } : undefined;
}

// A chunked body and its trailers (gRPC over HTTP/1.1 has them), or
// undefined until the last chunk has come.
function dechunk(bytes: Buffer): { body: Buffer; trailers: Record<string, string> } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(bytes.subarray(at, lineEnd).toString("latin1"), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) {
      const end = bytes.indexOf("\r\n\r\n", lineEnd);
      if (end < 0) return undefined;
      return { body: Buffer.concat(parts), trailers: headerFields(bytes.subarray(lineEnd + 2, end).toString("latin1").split("\r\n")) };
    }
    if (bytes.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

// One HTTP/2 session per request, so that a session the server ends for one
// case cannot fail another. Node's client sends no header block over 64 KiB
// unless told to; it is told to, so that the server decides about one.
function http2Request(port: number, request: WireRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`, { maxSendHeaderBlockLength: 1024 * 1024 });
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => settle({ failure: `no reply within ${timeoutMs} ms` }), timeoutMs);
    session.on("error", (error: NodeJS.ErrnoException) => settle({ failure: `session error ${error.code ?? error.message}` }));
    const headers: http2.OutgoingHttpHeaders = { ":method": request.method, ":path": request.path };
    for (const [name, value] of request.headers) {
      const key = name.toLowerCase();
      const previous = headers[key];
      headers[key] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
    }
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(headers, { endStream: request.body.length === 0 });
    } catch (error) {
      settle({ failure: `the HTTP/2 client would not send it: ${(error as Error).message}` });
      return;
    }
    let head: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (received) => (head = received));
    stream.on("trailers", (received) => (trailers = received));
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("error", () => {});
    // The reply is complete when the server ends its side, even if it never
    // read the whole request (as when the request is over the limit).
    const done = () => {
      if (head === undefined) return settle(stream.rstCode ? { reset: stream.rstCode } : { failure: "the stream closed without a reply" });
      settle({ status: Number(head[":status"]), headers: flat(head), trailers: flat(trailers), body: Buffer.concat(chunks) });
    };
    stream.on("end", done);
    stream.on("close", done);
    if (request.body.length > 0) stream.end(request.body);
  });
}

function flat(headers: http2.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(", ") : String(value)]));
}

// ---------------------------------------------------------------- replies

type Protocol = "rest" | "connect" | "connect-stream" | "grpc" | "grpc-web";

interface Reply {
  // HTTP status; 0 when no reply came.
  status: number;
  // The Connect or gRPC code the reply carries, if any.
  code?: string;
  message?: string;
  // Why no reply came.
  failure?: string;
}

// The codes gRPC clients read from an HTTP/2 stream reset (PROTOCOL-HTTP2.md, "Errors").
const resetCodes: Record<number, string> = { 7: "unavailable", 8: "canceled", 11: "resource_exhausted", 12: "permission_denied" };

function replyOf(protocol: Protocol, outcome: Outcome): Reply {
  if ("failure" in outcome) return { status: 0, failure: outcome.failure };
  if ("reset" in outcome) return { status: 0, code: resetCodes[outcome.reset] ?? "internal", message: `RST_STREAM with error code ${outcome.reset}` };
  const { status, headers, trailers, body } = outcome;
  switch (protocol) {
    case "rest":
      return { status };
    case "connect":
      return { status, ...jsonError(body) };
    case "connect-stream":
      return status === 200 ? { status, ...endStreamError(body) } : { status, ...jsonError(body) };
    case "grpc":
      return status === 200 ? { status, ...grpcStatus(trailers["grpc-status"] === undefined ? headers : trailers) } : { status };
    case "grpc-web":
      return status === 200 ? { status, ...grpcStatus(headers["grpc-status"] === undefined ? grpcWebTrailer(body) : headers) } : { status };
  }
}

function jsonError(body: Buffer): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { code?: unknown; message?: unknown };
    return typeof parsed.code === "string" ? { code: parsed.code, message: String(parsed.message ?? "") } : {};
  } catch {
    return {};
  }
}

// Envelopes: a flags byte, a 32-bit big-endian length, the data.
function* envelopes(body: Buffer): Generator<{ flags: number; data: Buffer }> {
  for (let at = 0; at + 5 <= body.length; ) {
    const length = body.readUInt32BE(at + 1);
    yield { flags: body[at]!, data: body.subarray(at + 5, at + 5 + length) };
    at += 5 + length;
  }
}

function endStreamError(body: Buffer): { code: string; message?: string } {
  for (const { flags, data } of envelopes(body)) {
    if ((flags & 0b10) === 0) continue;
    try {
      const end = JSON.parse(data.toString("utf8")) as { error?: { code?: string; message?: string } };
      return end.error === undefined ? { code: "ok" } : { code: end.error.code ?? "no code in the end-stream error", message: end.error.message };
    } catch {
      return { code: "an undecodable end-stream message" };
    }
  }
  return { code: "no end-stream message" };
}

function grpcWebTrailer(body: Buffer): Record<string, string> {
  for (const { flags, data } of envelopes(body)) {
    if ((flags & 0x80) !== 0) return headerFields(data.toString("latin1").split("\r\n"));
  }
  return {};
}

function headerFields(lines: string[]): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return fields;
}

function grpcStatus(fields: Record<string, string>): { code: string; message?: string } {
  const value = fields["grpc-status"];
  if (value === undefined) return { code: "no grpc-status" };
  let message: string | undefined = fields["grpc-message"];
  try {
    message = message === undefined ? undefined : decodeURIComponent(message);
  } catch {
    // Left percent-encoded: it is only shown.
  }
  return { code: codeNames[Number(value)] ?? `grpc-status ${value}`, message };
}

function classOf(reply: Reply): string {
  if (reply.failure !== undefined) return "no reply";
  if (reply.status === 0) return `reset ${reply.code}`;
  return reply.code === undefined ? `HTTP ${reply.status}` : `${reply.status === 200 ? "" : `HTTP ${reply.status} `}${reply.code}`;
}

type Verdict = "client error" | { deviation: string } | { broken: string };

function verdictOf(reply: Reply, fuzzCase: Case): Verdict {
  if (reply.failure !== undefined) return fuzzCase.unanswered !== undefined && !strict ? { deviation: fuzzCase.unanswered } : { broken: reply.failure };
  if (reply.code !== undefined && !clientCodes.has(reply.code)) {
    const known = knownDeviations.find((deviation) => deviation.code === reply.code && deviation.message.test(reply.message ?? ""));
    return known !== undefined && !strict ? { deviation: known.name } : { broken: `${classOf(reply)} is not a client error` };
  }
  // gRPC, gRPC-Web and Connect streams carry their errors in a 200 response,
  // a reset in its error code, and Connect's HTTP status for unimplemented is 501.
  const carried = reply.code !== undefined && (reply.status === 200 || reply.status === 0 || (reply.code === "unimplemented" && reply.status === 501));
  if (!carried && (reply.status < 400 || reply.status > 499)) return { broken: `HTTP ${reply.status} is not a client error` };
  if (fuzzCase.status !== undefined && reply.status !== fuzzCase.status) return { broken: `HTTP ${reply.status}, not ${fuzzCase.status}` };
  return "client error";
}

// ---------------------------------------------------------------- what exists

interface World {
  room: { name: string; sid: string };
  // Identities and sids of the seeded participants.
  participants: string[];
  targets: RpcTarget[];
}

// An RPC method, and how to make sure a request to it fails: poison is a
// field that makes any request fail (in protobuf the last value of a field
// wins, so it can be appended to any message), and fails() tells whether a
// decoded request surely fails. A random body the server could decode into a
// request that succeeds is no malformed request, and could change the data.
interface RpcTarget {
  method: DescMethod;
  path: string;
  poison: { binary: Buffer; json: Record<string, unknown> };
  fails(request: any): boolean;
}

function shortName(target: RpcTarget): string {
  return `${target.method.parent.name}/${target.method.name}`;
}

function rpcTargets(world: Omit<World, "targets">): RpcTarget[] {
  const seeded = (room: string) => room === world.room.name || room.toUpperCase() === world.room.sid.toUpperCase();
  const roomEmpty = { binary: stringField(1, ""), json: { room: "" } };
  const m = { p: ParticipantService.method, r: RoomService.method };
  const target = (method: DescMethod, poison: RpcTarget["poison"], fails: RpcTarget["fails"]): RpcTarget => ({
    method,
    path: `/${method.parent.typeName}/${method.name}`,
    poison,
    fails,
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
      (r) => badPageToken(r.pageToken) || badPageSize(r.pageSize) || badEnum(r.status) || badTimestamp(r.dateCreatedAfter) || badTimestamp(r.dateCreatedBefore),
    ),
    target(m.r.update, roomEmpty, (r) => !seeded(r.room) || r.status !== RoomStatus.COMPLETED),
  ];
}

function badName(name: string): boolean {
  return name === "" || [...name].length > 128 || /\p{Cc}|\p{Cs}/u.test(name);
}

function badPageToken(token: string): boolean {
  return token !== "" && !/^[a-z-]+\.\d{1,13}\.(RM|PA)[0-9a-f]{32}$/.test(Buffer.from(token, "base64url").toString("latin1"));
}

function badPageSize(size: number): boolean {
  return size < 0 || size > 1000;
}

function badEnum(value: number): boolean {
  return value < 0 || value > 3;
}

function outside(value: number | undefined, min: number, max: number): boolean {
  return value !== undefined && (value < min || value > max);
}

// Outside google.protobuf.Timestamp's range (0001-01-01 to 9999-12-31, nanos
// below a second), which JSON decoding refuses and binary decoding lets through.
function badTimestamp(timestamp: Timestamp | undefined): boolean {
  if (timestamp === undefined) return false;
  return timestamp.seconds < -62_135_596_800n || timestamp.seconds > 253_402_300_799n || timestamp.nanos < 0 || timestamp.nanos > 999_999_999;
}

function stringField(number: number, text: string): Buffer {
  const bytes = Buffer.from(text);
  return Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
}

function varintField(number: number, value: number): Buffer {
  return Buffer.concat([varint(number << 3), varint(value)]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = BigInt.asUintN(64, BigInt(value));
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest === 0n ? low : low | 0x80);
  } while (rest !== 0n);
  return Buffer.from(bytes);
}

// Whether the server must refuse this body however it reads it: as protobuf
// or JSON, and after gunzip or brotli if it decompresses.
function refused(target: RpcTarget, body: Uint8Array): boolean {
  return [body, ...decompressed(body)].every((bytes) => decodings(target, bytes).every((request) => target.fails(request)));
}

function decodings(target: RpcTarget, bytes: Uint8Array): unknown[] {
  const input = target.method.input;
  const found: unknown[] = [];
  // The server decodes as connect-node does: JSON leniently as UTF-8, unknown keys ignored.
  for (const decode of [() => fromBinary(input, bytes), () => fromJsonString(input, new TextDecoder().decode(bytes), { ignoreUnknownFields: true })]) {
    try {
      found.push(decode());
    } catch {
      // Refused by the decoder, as it will be by the server.
    }
  }
  return found;
}

function decompressed(bytes: Uint8Array): Uint8Array[] {
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

// ---------------------------------------------------------------- values

const brokenPercent = ["%", "%G1", "%C3%28", "%FF%FE", "%%", "%2", "%u0041", "%E2%82", "%ED%A0%80", "%C0%AF"];
const invalidUtf8 = [[0x80], [0xff], [0xfe, 0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82]].map((b) => Buffer.from(b));

function fuzzText(rng: Random, world: World): string {
  switch (rng.int(10)) {
    case 0:
      return "";
    case 1:
      return rng.pick([world.room.name, world.room.sid, world.room.sid.toUpperCase(), ...world.participants]);
    case 2:
      return rng.pick(["RM", "PA", "AC"]) + rng.hex(rng.pick([31, 32, 33]));
    case 3:
      return rng.pick(["\u0000", "a\tb", "line\nbreak", "\u007f", "\u0085", "nul\u0000x"]);
    case 4:
      return rng.pick(["\ud800", "x\udfff", "\udbff\udfff", "\ufffe", "\u200b"]);
    case 5:
      return "😀".repeat(rng.int(200));
    case 6:
      return rng.pick(["x", "😀"]).repeat(rng.pick([128, 129, 1000, 10_000, 100_000]));
    case 7:
      return rng.pick(["..", "../..", "/", "%2F", "{RM00}:p:*", "*", "a b", "%00", "?", "#", ...brokenPercent]);
    default: {
      let text = "";
      for (let i = rng.size(); i > 0; i--) text += rng.chance(0.1) ? String.fromCharCode(0xd800 + rng.int(0x800)) : String.fromCodePoint(rng.int(0x11000));
      return text;
    }
  }
}

const int32s = [0, 1, -1, 50, 51, 59, 61, 599, 600, 86_400, 86_401, 1000, 1001, 2 ** 31 - 1, -(2 ** 31)];
const enums = [0, 1, 2, 3, 4, 99, -1, 2 ** 31 - 1];
const timestampSeconds = [0n, -1n, 1_767_225_600n, -62_135_596_800n, -62_135_596_801n, 253_402_300_799n, 253_402_300_800n, 2n ** 62n, -(2n ** 62n)];
const timestampNanos = [0, 999_999_999, 1_000_000_000, -1, 2 ** 31 - 1];

function fieldValue(rng: Random, field: DescField, world: World): unknown {
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar === ScalarType.STRING ? fuzzText(rng, world) : rng.chance(0.8) ? rng.pick(int32s) : rng.int(2 ** 31);
    case "enum":
      return rng.pick(enums);
    case "message":
      return { seconds: rng.pick(timestampSeconds), nanos: rng.pick(timestampNanos) };
    default:
      return undefined;
  }
}

function randomMessage(rng: Random, desc: DescMessage, world: World): Buffer {
  const init: Record<string, unknown> = {};
  for (const field of desc.fields) if (rng.chance(0.6)) init[field.localName] = fieldValue(rng, field, world);
  return Buffer.from(toBinary(desc, create(desc, init)));
}

function mutate(rng: Random, bytes: Buffer): Buffer {
  let result = bytes;
  for (let n = 1 + rng.int(3); n > 0; n--) {
    const at = rng.int(result.length + 1);
    switch (rng.int(4)) {
      case 0:
        if (result.length > 0) result = Buffer.concat([result.subarray(0, at), Buffer.from([rng.int(256)]), result.subarray(at + 1)]);
        break;
      case 1:
        result = result.subarray(0, at);
        break;
      case 2:
        result = Buffer.concat([result.subarray(0, at), rng.bytes(1 + rng.int(4)), result.subarray(at)]);
        break;
      default:
        result = Buffer.concat([result.subarray(0, at), result.subarray(rng.int(at + 1))]);
        break;
    }
  }
  return result;
}

// A protobuf body the target must refuse: random bytes, a message with
// extreme field values, or one of those mangled.
function protoPayload(rng: Random, target: RpcTarget, world: World): Buffer {
  for (;;) {
    const message = randomMessage(rng, target.method.input, world);
    let bytes = [() => rng.bytes(rng.size()), () => message, () => mutate(rng, message), () => Buffer.concat([message, rng.bytes(1 + rng.int(8))])][rng.int(4)]!();
    if (rng.chance(0.5)) bytes = Buffer.concat([bytes, target.poison.binary]);
    if (refused(target, bytes)) return bytes;
  }
}

// JSON for a field: well typed or not, nested, huge, badly escaped.
function jsonValue(rng: Random, field: DescField | undefined, world: World): string {
  const nest = (depth: number) => (rng.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth));
  switch (rng.int(10)) {
    case 0:
    case 1:
    case 2:
    case 3:
      if (field?.fieldKind === "enum") {
        return rng.pick(['"PARTICIPANT_STATUS_DISCONNECTED"', '"ROOM_STATUS_COMPLETED"', '"PARTICIPANT_STATUS_GONE"', '"ROOM_STATUS_"', '""', '"room_status_completed"', "2", "99", "-1", "null", "2.5"]);
      }
      if (field?.fieldKind === "message") {
        return rng.pick(['"2026-01-01T00:00:00Z"', '"10000-01-01T00:00:00Z"', '"0000-12-31T23:59:59Z"', '"2026-02-30T00:00:00Z"', '"yesterday"', '"2026-01-01T00:00:00.0000000001Z"', "0", '{"seconds":1}']);
      }
      if (field?.fieldKind === "scalar" && field.scalar !== ScalarType.STRING) {
        return rng.pick(["0", "1", "-1", "51", "1001", "2147483648", "-2147483649", "1e308", "1.5", "-0", '"12"', '"abc"', "9007199254740993", "1e-7", '"0x10"', '" 5"']);
      }
      return JSON.stringify(fuzzText(rng, world));
    case 4:
      return rng.pick(["true", "false", "null"]);
    case 5:
      return rng.pick(["[]", "{}", '["a"]', '{"a":1}', '[null]']);
    case 6:
      return nest(rng.pick([10, 100, 1000, 5000]));
    case 7:
      return rng.pick(["1" + "0".repeat(400), "-" + "9".repeat(50), "1e999999", "-1e-999999", "NaN", "Infinity", "0x10", "01"]);
    case 8:
      return rng.pick(['"\\u0000"', '"\\ud800"', '"\\x41"', '"\\u12"', '"\u0001"', '"tab\there"', "'single'", '"unterminated']);
    default:
      return JSON.stringify(fuzzText(rng, world));
  }
}

const unknownKeys = ["unknown", "__proto__", "constructor", "prototype", "", "x".repeat(1000), "room ", "ROOM", "@type"];

function jsonObject(rng: Random, target: RpcTarget, world: World, poisoned: boolean): string {
  const pairs: [string, string][] = [];
  for (const field of target.method.input.fields) {
    if (rng.chance(0.6)) pairs.push([rng.pick([field.jsonName, field.name, field.name.toUpperCase(), `${field.jsonName} `]), jsonValue(rng, field, world)]);
  }
  if (rng.chance(0.3)) pairs.push([rng.pick(unknownKeys), jsonValue(rng, undefined, world)]);
  if (poisoned) for (const [key, value] of Object.entries(target.poison.json)) pairs.push([key, JSON.stringify(value)]);
  return `{${pairs.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`;
}

function mutateJson(rng: Random, text: string): Buffer {
  let bytes = Buffer.from(text);
  for (let n = rng.int(3); n > 0; n--) {
    const at = rng.int(bytes.length + 1);
    switch (rng.int(6)) {
      case 0:
        bytes = bytes.subarray(0, at);
        break;
      case 1:
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(rng.pick(["{", "}", "[", "]", ":", ",", '"', "\\", " ", "\u0000", "x"])), bytes.subarray(at)]);
        break;
      case 2:
        bytes = Buffer.concat([bytes.subarray(0, at), rng.pick(invalidUtf8), bytes.subarray(at)]);
        break;
      case 3:
        bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), bytes]);
        break;
      case 4:
        bytes = Buffer.concat([bytes, Buffer.from(rng.pick(["x", "}", " {}", "\n\n", ","]))]);
        break;
      default:
        bytes = Buffer.from(rng.pick(["[]", "null", "1", '"x"', "", " ", "true", "[{}]"]));
        break;
    }
  }
  return bytes;
}

// A JSON body the target must refuse.
function jsonPayload(rng: Random, target: RpcTarget, world: World): Buffer {
  for (;;) {
    const bytes = mutateJson(rng, jsonObject(rng, target, world, rng.chance(0.5)));
    if (refused(target, bytes)) return bytes;
    const poisoned = Buffer.from(jsonObject(rng, target, world, true));
    if (refused(target, poisoned)) return poisoned;
  }
}

// A body well past ROLLCALL_MAX_REQUEST_BYTES, or a 100 kB one within it,
// made of a refused request and an unknown field.
function padded(target: RpcTarget, json: boolean, bytes: number): Buffer {
  if (json) return Buffer.from(`{"padding":"${"x".repeat(bytes)}",${JSON.stringify(target.poison.json).slice(1)}`);
  return Buffer.concat([target.poison.binary, stringField(1000, "x".repeat(bytes))]);
}

function frame(flags: number, payload: Buffer, length = payload.length): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = flags;
  prefix.writeUInt32BE(length >>> 0, 1);
  return Buffer.concat([prefix, payload]);
}

// Credentials that are missing, malformed, wrong, or another account's
// (which sees none of the seeded data).
function badAuthorization(rng: Random): string | undefined {
  return rng.pick([
    undefined,
    "",
    "Basic",
    "Basic !!!",
    "Basic " + Buffer.from("no colon").toString("base64"),
    basic(testAccount.sid, "wrong token"),
    basic("AC" + "0".repeat(32), "x"),
    basic(testAccount.sid.toLowerCase(), testAccount.token),
    "Bearer " + testAccount.token,
    testAuthorization + " trailing",
    "Basic " + "QUFB".repeat(5000),
    otherAuthorization,
  ]);
}

function withAuthorization(rng: Random, headers: [string, string][]): [string, string][] {
  const value = rng.chance(0.9) ? testAuthorization : badAuthorization(rng);
  return value === undefined ? headers : [...headers, ["authorization", value]];
}

// Header values a server may refuse for their size: 60 kB in one, or many small ones.
function giantHeaders(rng: Random): [string, string][] {
  if (rng.chance(0.5)) return [[rng.pick(["x-fuzz", "cookie", "user-agent"]), "v".repeat(rng.pick([8_000, 60_000]))]];
  return Array.from({ length: rng.pick([100, 500, 3000]) }, (_, i): [string, string] => [`x-fuzz-${i}`, "v".repeat(10)]);
}

// ---------------------------------------------------------------- REST cases

interface Case {
  name: string;
  protocol: Protocol;
  request: WireRequest;
  // Where the rule is sharper than "a client error".
  status?: number;
  // Why no reply is known to come, if it is a library's doing.
  unanswered?: string;
}

const restParams = ["Status", "Identity", "UniqueName", "DateCreatedAfter", "DateCreatedBefore", "PageSize", "Page", "PageToken", "Type", "MaxParticipants", "EmptyRoomTimeout", "UnusedRoomTimeout", "MaxParticipantDuration", "StatusCallback", "StatusCallbackMethod"];
const badPageSizes = ["0", "1001", "-1", "1e9", "NaN", "1000000000", "0x10", "abc", "1.5", "9".repeat(20), "+-1", "%FF"];
const badPages = ["-1", "-5", "x", "1e3", "9".repeat(16)];
const badPageTokens = ["x", "!!!", "%25%25", "=====", "Y29ubmVjdGVk", Buffer.from("connected..PA00").toString("base64url"), Buffer.from("gone.1.PA" + "0".repeat(32)).toString("base64url"), Buffer.from("connected.12345678901234.PA" + "0".repeat(32)).toString("base64url"), "A".repeat(10_000), "%G1"];
const badDates = ["2026-13-01", "2026-02-30", "2026-04-31", "2026-00-10", "yesterday", "2026-01-01T25:00:00Z", "2026-01-01T10:61Z", "1767225600", "2026-1-1", "2026-01-01T00:00:00%2B25:00", "2026-01-01%2000:00:00", "2026-01-01T00:00:00.1234567890Z", "%C3%28"];

// One list parameter that makes any listing fail, rooms or participants.
function listPoison(rng: Random): string {
  switch (rng.int(6)) {
    case 0:
      return `PageSize=${rng.pick(badPageSizes)}`;
    case 1:
      return `Page=${rng.pick(badPages)}`;
    case 2:
      return `PageToken=${rng.pick(badPageTokens)}`;
    case 3:
      return `${rng.pick(["DateCreatedAfter", "DateCreatedBefore"])}=${rng.pick(badDates)}`;
    case 4:
      return rng.pick(["Status=connected&Status=connected", "PageSize=5&PageSize=5", "Status=completed&Status=in-progress", "Status=%00", "Status=CONNECTED&Status=IN-PROGRESS"]);
    default:
      return `Status=${rng.pick(["open", "done", "x", "connected&Status=completed"])}`;
  }
}

const createPoisons = [
  "MaxParticipants=0", "MaxParticipants=51", "MaxParticipants=-1", "MaxParticipants=x", "MaxParticipants=1e1", "Type=huge", "Type=GROUP", "EmptyRoomTimeout=0",
  "UnusedRoomTimeout=61", "MaxParticipantDuration=1", "StatusCallbackMethod=PUT", "StatusCallback=ftp%3A%2F%2Fx", "StatusCallback=not%20a%20url",
  "UniqueName=%01", `UniqueName=${"x".repeat(129)}`, "UniqueName=a&UniqueName=b", "Type=group&Type=group",
];
const completePoisons = ["Status=in-progress", "Status=failed", "Status=COMPLETED", "Status=done", "Status=", "Status=completed&Status=completed", "Status=%00completed"];
const kickPoisons = ["Status=connected", "Status=reconnecting", "Status=DISCONNECTED", "Status=gone", "Status=", "Status=disconnected&Status=disconnected", "Status=disconnected%00"];

// Parameters that may or may not be wrong, mixed in with the poison.
function noise(rng: Random, world: World): Buffer[] {
  const parts: Buffer[] = [];
  for (let n = rng.int(4); n > 0; n--) {
    const key = rng.chance(0.7) ? Buffer.from(rng.pick(restParams)) : rng.chance(0.5) ? Buffer.from(rng.pick(["", "x", "a[b]", ...brokenPercent])) : rng.bytes(1 + rng.int(6));
    const value = [
      () => Buffer.from(rng.pick(brokenPercent)),
      () => rng.bytes(rng.size()),
      () => Buffer.from(rng.pick(["", "5", "0", "-1", "1001", "connected", "completed", "disconnected", "2026-01-01", "😀", "%F0%9F%98%80"])),
      () => Buffer.from(encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 3000)))),
      () => Buffer.from("x".repeat(rng.pick([1000, 5000]))),
    ][rng.int(5)]!();
    parts.push(rng.chance(0.9) ? Buffer.concat([key, Buffer.from("="), value]) : key);
  }
  return parts;
}

// A query string or form: the poison and the noise, in any order.
function paramsOf(rng: Random, poison: string[], extra: Buffer[]): Buffer {
  const parts = [...poison.map((p) => Buffer.from(p)), ...extra];
  for (let i = parts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [parts[i], parts[j]] = [parts[j]!, parts[i]!];
  }
  return Buffer.concat(parts.flatMap((part, i) => (i === 0 ? [part] : [Buffer.from("&"), part])));
}

// Bytes as they may stand in a request target: what would end the target
// or the URL is escaped; raw bytes above 0x7f stay only in HTTP/1.1.
function inTarget(bytes: Buffer, http: 1 | 2): string {
  let text = "";
  for (const byte of bytes) {
    const escape = byte <= 0x20 || byte === 0x7f || byte === 0x23 || (http === 2 && byte >= 0x80);
    text += escape ? `%${byte.toString(16).padStart(2, "0").toUpperCase()}` : String.fromCharCode(byte);
  }
  return text;
}

// Lone surrogates replaced, as percent-encoding needs.
function wellFormed(text: string): string {
  return Buffer.from(text).toString();
}

function absentRoom(rng: Random, world: World): string {
  for (;;) {
    const name = rng.pick([
      () => `absent-${rng.int(1e6)}`,
      () => "RM" + rng.hex(32),
      () => rng.pick(brokenPercent),
      () => rng.pick(["%00", "%2F", "a%2Fb", "%5C", "%3F"]),
      () => "x".repeat(rng.pick([129, 1000, 10_000])),
      () => encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 200))),
    ])();
    if (safeSegment(name, world)) return name;
  }
}

function absentParticipant(rng: Random, world: World): string {
  for (;;) {
    const name = rng.pick([() => "PA" + rng.hex(32), () => "nobody", () => rng.pick([...brokenPercent, "%00", "%2F"]), () => encodeURIComponent(wellFormed(fuzzText(rng, world).slice(0, 200)))])();
    if (safeSegment(name, world)) return name;
  }
}

// A path segment that cannot name the seeded room or a seeded participant,
// however the server decodes it, nor be a dot segment that leads elsewhere.
function safeSegment(segment: string, world: World): boolean {
  if (/^(\.|%2e){1,2}$/i.test(segment)) return false;
  let decoded = segment;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    // The server reads an undecodable segment as no name at all.
  }
  const seededNames = [world.room.name, world.room.sid, ...world.participants].map((name) => name.toLowerCase());
  return decoded !== "" && !seededNames.includes(decoded.toLowerCase());
}

const tricks = ["..", ".", "%2e%2e", "%2E%2e", ".%2e", "", "%2F", "a%2Fb", "%00", "%", "%G1", "%C3%28", "%FF%FE", "%5C", "\\", ";", "%3B"];

function restCase(rng: Random, world: World, http: 1 | 2): Case {
  const real = encodeURIComponent(world.room.name);
  const someRoom = () => (rng.chance(0.5) ? rng.pick([real, world.room.sid]) : absentRoom(rng, world));
  let name: string;
  let method = "GET";
  let path: string;
  let query: Buffer | undefined;
  let form: Buffer | undefined;
  let status: number | undefined;
  switch (rng.int(12)) {
    case 0:
      name = "list rooms with a bad parameter";
      path = "/v1/Rooms";
      query = paramsOf(rng, [listPoison(rng)], noise(rng, world));
      break;
    case 1:
      name = "list participants with a bad parameter";
      path = `/v1/Rooms/${someRoom()}/Participants`;
      query = paramsOf(rng, [rng.chance(0.8) ? listPoison(rng) : rng.pick(["Identity=%00", `Identity=${"x".repeat(129)}`, "Identity=%01a", "Status=completed", "Status=in-progress"])], noise(rng, world));
      break;
    case 2:
      name = "create a room with a bad parameter";
      method = "POST";
      path = "/v1/Rooms";
      form = paramsOf(rng, [rng.pick(createPoisons)], noise(rng, world));
      break;
    case 3:
      name = "complete a room with a bad status";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}`;
      form = paramsOf(rng, [rng.pick(completePoisons)], noise(rng, world));
      break;
    case 4:
      name = "fetch a missing room";
      path = `/v1/Rooms/${absentRoom(rng, world)}`;
      query = paramsOf(rng, [], noise(rng, world));
      break;
    case 5:
      name = "fetch a missing participant";
      path = `/v1/Rooms/${someRoom()}/Participants/${absentParticipant(rng, world)}`;
      query = paramsOf(rng, [], noise(rng, world));
      break;
    case 6:
      name = "kick with a bad status";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}/Participants/${rng.chance(0.5) ? rng.pick(world.participants) : absentParticipant(rng, world)}`;
      form = paramsOf(rng, [rng.pick(kickPoisons)], noise(rng, world));
      break;
    case 7:
      name = "anonymize a missing participant";
      method = "POST";
      path = `/v1/Rooms/${someRoom()}/Participants/${absentParticipant(rng, world)}/Anonymize`;
      form = paramsOf(rng, [], noise(rng, world));
      break;
    case 8:
      name = "a method the route does not take";
      // HTTP/1.1's parser refuses methods it does not know; HTTP/2 passes any token on.
      method = rng.pick(["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD", "PROPFIND", "FOO", ...(http === 1 ? ["get", "post"] : ["QUERY"])]);
      path = rng.pick(["/v1/Rooms", `/v1/Rooms/${someRoom()}`, `/v1/Rooms/${someRoom()}/Participants`, `/v1/Rooms/${real}/Participants/${rng.pick(world.participants)}`, `/v1/Rooms/${real}/Participants/ann/Anonymize`]);
      break;
    case 9:
      name = "an unknown path";
      method = rng.pick(["GET", "POST"]);
      path = rng.pick(["/v1/Foo", "/v1/rooms", `/v1/Rooms/${real}/Recordings`, `/v1/Rooms/${real}/participants`, `/v1/Rooms/${real}/Participants/ann/PublishedTracks`, `/v1/Rooms/${real}/Participants/ann/Anonymize/x`, "/v1/Rooms/a/b/c/d/e/f", "/v1/", "/v1"]);
      query = paramsOf(rng, [listPoison(rng)], []);
      form = paramsOf(rng, [rng.pick(createPoisons), rng.pick(completePoisons)], []);
      break;
    case 10: {
      name = "a path trick";
      method = rng.pick(["GET", "POST"]);
      const segments = ["Rooms", rng.chance(0.5) ? rng.pick(tricks) : absentRoom(rng, world), rng.chance(0.5) ? "Participants" : rng.pick(tricks)];
      if (rng.chance(0.6)) segments.push(rng.chance(0.5) ? rng.pick(tricks) : absentParticipant(rng, world));
      if (rng.chance(0.3)) segments.splice(rng.int(segments.length + 1), 0, rng.pick(tricks));
      path = "/v1/" + segments.join(rng.chance(0.2) ? "//" : "/") + rng.pick(["", "", "/", "//", "/."]);
      if (rng.chance(0.1)) path = "/v1/" + "x".repeat(rng.pick([10_000, 20_000, 70_000]));
      // Wherever the path leads, the poisons make the call fail.
      query = paramsOf(rng, [listPoison(rng)], noise(rng, world));
      form = paramsOf(rng, [rng.pick(createPoisons), rng.pick(completePoisons)], noise(rng, world));
      break;
    }
    default:
      name = "a path that leaves /v1 when resolved";
      method = rng.pick(["GET", "POST"]);
      path = rng.pick(["/v1/../abc/Rooms", "/v1/../xyz/Rooms/absent", "/v1/%2e%2e/abc/Rooms", "/v1/./../qq/Rooms", "/v1/Rooms/../../abc/Rooms"]);
      query = paramsOf(rng, [listPoison(rng)], []);
      form = paramsOf(rng, [rng.pick(createPoisons)], []);
      status = 404;
      break;
  }

  let headers: [string, string][] = [];
  let body: Buffer = Buffer.alloc(0);
  if (method !== "GET" && method !== "HEAD") {
    body = form ?? Buffer.alloc(0);
    headers.push(["content-type", "application/x-www-form-urlencoded"]);
    if (rng.chance(0.1)) {
      name += ", a wrong content type";
      headers = [["content-type", rng.pick(["multipart/form-data; boundary=x", "application/json", "text/plain", "", "application/x-www-form-urlencoded, text/plain", "form"])]];
    } else if (rng.chance(0.08)) {
      name += ", a 100 kB field within the limit";
      body = Buffer.concat([body, Buffer.from(`&${rng.pick(restParams)}=${"x".repeat(100 * 1024)}`)]);
    } else if (rng.chance(0.05)) {
      name += ", a body over the limit";
      body = Buffer.concat([body, Buffer.from(`&Padding=${"x".repeat(maxRequestBytes + rng.int(100_000))}`)]);
    } else if (rng.chance(0.1)) {
      name += ", invalid UTF-8 in the body";
      body = Buffer.concat([body, Buffer.from("&"), rng.pick(invalidUtf8), Buffer.from("="), rng.pick(invalidUtf8), Buffer.from("&UniqueName="), rng.pick(invalidUtf8)]);
    }
  }
  if (query !== undefined && query.length > 0) {
    if (rng.chance(0.05)) {
      name += ", a 100 kB query";
      query = Buffer.concat([query, Buffer.from(`&Identity=${"x".repeat(100 * 1024)}`)]);
      status = undefined;
    }
    path += "?" + inTarget(query, http);
  }
  if (rng.chance(0.05)) {
    name += ", giant headers";
    headers.push(...giantHeaders(rng));
    status = undefined;
  }
  if (rng.chance(0.92)) headers.push(["authorization", testAuthorization]);
  else {
    name += ", bad credentials";
    const value = badAuthorization(rng);
    if (value !== undefined) headers.push(["authorization", value]);
    // Authentication comes first: no route is looked at.
    status = undefined;
  }
  const request: WireRequest = { http, port: "main", method, path, headers, body };
  if (http === 1 && rng.chance(0.04)) return http1FramingCase(rng, request);
  return { name, protocol: "rest", request, status };
}

// HTTP/1.1 framing the parser must refuse: broken chunks, a bad or doubled length.
function http1FramingCase(rng: Random, request: WireRequest): Case {
  const framings: [string, [string, string][], Buffer][] = [
    ["a chunk size that is not hex", [["transfer-encoding", "chunked"]], Buffer.from("zz\r\nabc\r\n0\r\n\r\n")],
    ["a chunk longer than its size", [["transfer-encoding", "chunked"]], Buffer.from("2\r\nabcdef\r\n0\r\n\r\n")],
    ["a content-length that is not a number", [["content-length", "abc"]], Buffer.from("Status=x")],
    ["a negative content-length", [["content-length", "-1"]], Buffer.from("Status=x")],
    ["two different content-lengths", [["content-length", "3"], ["content-length", "5"]], Buffer.from("Status")],
    ["both content-length and chunked", [["content-length", "3"], ["transfer-encoding", "chunked"]], Buffer.from("3\r\nabc\r\n0\r\n\r\n")],
    ["an unknown transfer-encoding", [["transfer-encoding", "gzip, fuzz"]], Buffer.from("abc")],
  ];
  const [name, headers, body] = rng.pick(framings);
  return { name: `HTTP/1.1 framing: ${name}`, protocol: "rest", request: { ...request, method: "POST", headers: [...request.headers.filter(([key]) => key !== "content-length"), ...headers], body, ownFraming: true } };
}

// ---------------------------------------------------------------- RPC cases

const unknownMethodPaths = ["/rollcall.v1.ParticipantService/Nope", "/rollcall.v1.Nope/Get", "/rollcall.v1.RoomService/get", "/rollcall.v1.RoomService/Get/", "//rollcall.v1.RoomService/Get", "/rollcall.v1.RoomService", "/", "/rollcall.v1.RoomService/Get%00"];

function connectJsonCase(rng: Random, world: World): Case {
  const target = rng.pick(world.targets);
  let name = shortName(target);
  let body: Buffer;
  const size = rng.int(40);
  if (size === 0) {
    name += ": a body over the limit";
    body = padded(target, true, maxRequestBytes + rng.int(50_000));
  } else if (size === 1) {
    name += ": a 100 kB field within the limit";
    body = padded(target, true, 100 * 1024);
  } else {
    body = jsonPayload(rng, target, world);
  }
  let headers: [string, string][] = [["content-type", rng.chance(0.85) ? "application/json" : rng.pick(["application/json; charset=utf-8", "application/json;charset=UTF-8", "APPLICATION/JSON", "application/json; charset=latin1", "text/json", "application/x-www-form-urlencoded", "application/jsonx", ""])]];
  const version = rng.pick([undefined, undefined, undefined, "1", "2", "", "banana"]);
  if (version !== undefined) headers.push(["connect-protocol-version", version]);
  if (rng.chance(0.05)) headers.push(["connect-timeout-ms", rng.pick(["abc", "-1", "1.5", "99999999999", " 5", "1e3"])]);
  if (rng.chance(0.08)) {
    const encoding = rng.pick(["gzip", "gzip", "br", "snappy", "identity", "gzip, br"]);
    headers.push(["content-encoding", encoding]);
    if (encoding === "gzip" && rng.chance(0.5)) body = gzipSync(body);
    name += `, content-encoding ${encoding}`;
  }
  let method = "POST";
  let path = target.path;
  // A GET carries the message in the query, where the server reads it as
  // UTF-8; the HTTP/2 client sends a URL of up to 1 MiB.
  if (rng.chance(0.06) && body.length < 50_000) {
    method = "GET";
    name += ", as a GET";
    const text = body.toString("utf8");
    body = Buffer.alloc(0);
    path += `?connect=v1&encoding=json&message=${encodeURIComponent(refused(target, Buffer.from(text)) ? text : JSON.stringify(target.poison.json))}`;
  } else if (rng.chance(0.03)) {
    method = rng.pick(["PUT", "DELETE", "PATCH"]);
  }
  if (rng.chance(0.04)) path = rng.pick(unknownMethodPaths);
  headers = withAuthorization(rng, headers);
  return { name, protocol: "connect", request: { http: rng.chance(0.3) ? 2 : 1, port: "main", method, path, headers, body } };
}

function connectBinaryCase(rng: Random, world: World): Case {
  const target = rng.pick(world.targets);
  let name = shortName(target);
  const http = rng.chance(0.4) ? 2 : 1;
  let headers: [string, string][] = [];
  let method = "POST";
  let path = target.path;
  let body: Buffer;
  let protocol: Protocol = "connect";
  const kind = rng.int(10);
  if (kind < 6) {
    name += ": unary application/proto";
    body = rng.chance(0.03) ? padded(target, false, maxRequestBytes + rng.int(50_000)) : protoPayload(rng, target, world);
    headers.push(["content-type", rng.chance(0.9) ? "application/proto" : rng.pick(["application/protobuf", "application/x-protobuf", "application/proto; charset=utf-8"])]);
    if (rng.chance(0.1)) {
      const encoding = rng.pick(["gzip", "gzip", "br", "snappy"]);
      headers.push(["content-encoding", encoding]);
      if (encoding === "gzip" && rng.chance(0.6)) body = gzipSync(body);
      name += `, content-encoding ${encoding}`;
    }
  } else if (kind < 9) {
    const json = rng.chance(0.3);
    protocol = "connect-stream";
    // Only ParticipantService.List streams; other methods refuse stream content types.
    const streamTarget = rng.chance(0.8) ? world.targets.find((t) => t.method === ParticipantService.method.list)! : target;
    path = streamTarget.path;
    const framed = framedBody(rng, streamTarget, world, json);
    name = `${shortName(streamTarget)}: Connect stream, ${framed.name}`;
    body = framed.body;
    headers.push(["content-type", json ? "application/connect+json" : "application/connect+proto"]);
    if (framed.encoding !== undefined) headers.push(["connect-content-encoding", framed.encoding]);
  } else {
    method = "GET";
    name += ": GET with a base64 protobuf message";
    body = Buffer.alloc(0);
    const message = protoPayload(rng, target, world);
    path += `?connect=v1&encoding=proto&base64=1&message=${encodeURIComponent(message.toString(rng.chance(0.5) ? "base64url" : "base64"))}`;
  }
  headers = withAuthorization(rng, headers);
  return { name, protocol, request: { http, port: "main", method, path, headers, body } };
}

interface FramedBody {
  name: string;
  body: Buffer;
  // The messages in the frames, as sent (compressed or not).
  payloads: Buffer[];
  encoding?: string;
}

// A body of gRPC-style envelopes, well formed or not.
function framedBody(rng: Random, target: RpcTarget, world: World, json: boolean): FramedBody {
  const payload = () => (json ? jsonPayload(rng, target, world) : protoPayload(rng, target, world));
  const framed = (name: string, frames: [number, Buffer, number?][], encoding?: string): FramedBody => ({
    name,
    body: Buffer.concat(frames.map(([flags, data, length]) => frame(flags, data, length))),
    payloads: frames.map(([, data]) => data),
    encoding,
  });
  switch (rng.int(13)) {
    case 0: {
      const data = payload();
      return framed("a frame longer than its body", [[0, data, data.length + 1 + rng.int(1000)]]);
    }
    case 1:
      return framed("a length prefix past the limit", [[0, payload(), rng.pick([maxRequestBytes + 1, 2 ** 31, 2 ** 32 - 1])]]);
    case 2:
      return { name: "part of a frame prefix", body: rng.bytes(1 + rng.int(4)), payloads: [] };
    case 3:
      return { name: "no frame", body: Buffer.alloc(0), payloads: [] };
    case 4:
      return framed("two frames", [[0, payload()], [0, payload()]]);
    case 5: {
      const one = framed("a frame and garbage", [[0, payload()]]);
      return { ...one, body: Buffer.concat([one.body, rng.bytes(1 + rng.int(10))]) };
    }
    case 6:
      return framed("the compressed flag without an encoding", [[1, payload()]]);
    case 7:
      return framed("a gzip frame", [[1, gzipSync(payload())]], "gzip");
    case 8:
      return framed("a frame that does not gunzip", [[1, rng.bytes(1 + rng.size())]], "gzip");
    case 9:
      return framed("an unknown encoding", [[rng.int(2), payload()]], rng.pick(["snappy", "zstd", "gzip, br", "GZIP", ""]));
    case 10:
      return framed("odd frame flags", [[rng.pick([2, 0x80, 0x81, 0xff, 0x7e]), payload()]]);
    case 11:
      return framed("a frame over the limit", [[0, padded(target, json, maxRequestBytes + rng.int(50_000))]]);
    default:
      return framed("one frame", [[0, payload()]]);
  }
}

// The message JSON decoding gives for these bytes, if it fails.
function jsonErrorOf(target: RpcTarget, bytes: Uint8Array): string | undefined {
  try {
    fromJsonString(target.method.input, new TextDecoder().decode(bytes), { ignoreUnknownFields: true });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// gRPC over HTTP/2 to either port, or gRPC-Web (mostly over HTTP/1.1) to the main one.
function grpcCase(rng: Random, world: World, port: "main" | "grpc", web: boolean): Case {
  const target = rng.pick(world.targets);
  const framed = framedBody(rng, target, world, false);
  const http = web && rng.chance(0.8) ? 1 : 2;
  let name = `${shortName(target)}: ${framed.name}`;
  let contentType = web ? "application/grpc-web+proto" : "application/grpc";
  if (rng.chance(0.1)) {
    contentType = web
      ? rng.pick(["application/grpc-web", "application/grpc-web+json", "application/grpc-web-text", "application/grpc-web-text+proto", "application/grpc", "text/plain", ""])
      : rng.pick(["application/grpc+proto", "application/grpc+json", "application/grpcx", "application/grpc+foo", "text/plain", "application/json", "application/proto", ""]);
    // Read as a Connect unary call, the whole body is the message.
    if (!refused(target, framed.body)) contentType = web ? "application/grpc-web" : "application/grpc";
    name += `, content-type ${JSON.stringify(contentType)}`;
  }
  let headers: [string, string][] = contentType === "" ? [] : [["content-type", contentType]];
  if (framed.encoding !== undefined) headers.push(["grpc-encoding", framed.encoding]);
  if (!web) {
    if (rng.chance(0.9)) headers.push(["te", "trailers"]);
    else name += ", no te header";
  } else if (rng.chance(0.5)) headers.push(["x-grpc-web", "1"]);
  if (rng.chance(0.05)) {
    const timeout = rng.pick(["abc", "-1S", "1000000000S", "5x", "", "1.5S", "S"]);
    headers.push(["grpc-timeout", timeout]);
    name += `, grpc-timeout ${JSON.stringify(timeout)}`;
  }
  if (rng.chance(0.04)) {
    headers.push(...giantHeaders(rng));
    name += ", giant metadata";
  }
  headers = withAuthorization(rng, headers);
  let method = "POST";
  let path = target.path;
  if (rng.chance(0.03)) method = rng.pick(["GET", "PUT"]);
  if (rng.chance(0.04)) path = rng.pick(unknownMethodPaths);
  const protocol = protocolOf(contentType, port);
  const jsonCodec = (protocol === "grpc" || protocol === "grpc-web") && port === "main" && contentType.endsWith("+json");
  const unanswered = jsonCodec && framed.payloads.some((p) => [p, ...decompressed(p)].some((bytes) => /\p{Cs}/u.test(jsonErrorOf(target, bytes) ?? ""))) ? unansweredJsonError : undefined;
  return { name, protocol, request: { http, port, method, path, headers, body: framed.body }, unanswered };
}

// How the server answers a request of this content type: the main port
// speaks every protocol, the grpc-js port gRPC alone.
function protocolOf(contentType: string, port: "main" | "grpc"): Protocol {
  if (port === "grpc") return "grpc";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return contentType.startsWith("application/connect+") ? "connect-stream" : "connect";
}

// ---------------------------------------------------------------- the suite

async function eachConcurrently<T>(items: T[], work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await work(items[i]!, i);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

function describeRequest(request: WireRequest): string {
  const preview = request.body.subarray(0, 80).toString("latin1").replace(/[^\x20-\x7e]/g, ".");
  const headers = request.headers.map(([name, value]) => `${name}: ${value.length > 40 ? value.slice(0, 40) + "…" : value}`).slice(0, 6).join("; ");
  return `HTTP/${request.http} ${request.port} port: ${request.method} ${request.path.slice(0, 160)}${request.path.length > 160 ? "…" : ""} [${headers}] ${request.body.length} bytes "${preview}"`;
}

// The whole run against one store: the memory store takes two thirds of the
// requests, Redis the rest, so that both see every kind of case.
function fuzz(store: string, share: number, settings: () => Partial<Config>): void {
  describe(`fuzz on the ${store} (FUZZ_SEED=${seed})`, function () {
    this.timeout(120_000);

    let server: Awaited<ReturnType<typeof startRollcall>>;
    let participants: Client<typeof ParticipantService>;
    let rooms: Client<typeof RoomService>;
    let world: World;
    let ports: Ports;
    const summary: string[] = [];

    const snapshot = async () => ({
      room: await rooms.get({ room: world.room.sid }),
      connected: await collect(participants.list({ room: world.room.sid })),
      disconnected: await collect(participants.list({ room: world.room.sid, status: ParticipantStatus.DISCONNECTED })),
      rooms: await rooms.list({}),
    });

    before(async () => {
      server = await startRollcall({ ...settings(), maxRequestBytes });
      ports = { main: server.port, grpc: server.grpcPort! };
      participants = connectJsonHttp1(ParticipantService, server.url);
      rooms = connectJsonHttp1(RoomService, server.url);
      const room = (await rooms.create({ uniqueName: "fuzz-kept" })).room!;
      const sids: string[] = [];
      for (const identity of ["ann", "ben", "cy"]) sids.push((await participants.join({ room: room.sid, identity })).participant!.sid);
      await participants.update({ room: room.sid, participant: "ben", status: ParticipantStatus.DISCONNECTED });
      const seeded = { room: { name: room.uniqueName, sid: room.sid }, participants: ["ann", "ben", "cy", ...sids] };
      world = { ...seeded, targets: rpcTargets(seeded) };
    });

    after(async () => {
      console.log(`fuzz on the ${store}, FUZZ_SEED=${seed}:\n  ${summary.join("\n  ")}`);
      await server?.close();
    });

    let stored: unknown;
    beforeEach(async () => {
      stored = await snapshot();
    });
    afterEach(async function () {
      if (this.currentTest?.state === "passed") expect(await snapshot(), `stored data is intact (FUZZ_SEED=${seed})`).to.deep.equal(stored);
    });

    const transports: { name: string; count: number; make: (rng: Random) => Case }[] = [
      { name: "REST over HTTP/1.1", count: 900, make: (rng) => restCase(rng, world, 1) },
      { name: "REST over HTTP/2", count: 300, make: (rng) => restCase(rng, world, 2) },
      { name: "Connect JSON", count: 500, make: (rng) => connectJsonCase(rng, world) },
      { name: "Connect binary", count: 400, make: (rng) => connectBinaryCase(rng, world) },
      { name: "gRPC-Web", count: 250, make: (rng) => grpcCase(rng, world, "main", true) },
      { name: "gRPC on the main port", count: 350, make: (rng) => grpcCase(rng, world, "main", false) },
      { name: "gRPC on the grpc-js port", count: 350, make: (rng) => grpcCase(rng, world, "grpc", false) },
    ];

    for (const transport of transports) {
      it(`${transport.name}: every malformed request gets a client error`, async () => {
        const rng = randomFor(`${store} ${transport.name}`);
        const cases = Array.from({ length: Math.ceil(transport.count * share * scale) }, () => transport.make(rng));
        const classes = new Map<string, number>();
        const deviations = new Map<string, number>();
        const broken: string[] = [];
        const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
        await eachConcurrently(cases, async (fuzzCase, index) => {
          const reply = replyOf(fuzzCase.protocol, await send(fuzzCase.request, ports));
          count(classes, classOf(reply));
          const verdict = verdictOf(reply, fuzzCase);
          if (verdict === "client error") return;
          if ("deviation" in verdict) count(deviations, verdict.deviation);
          else {
            const message = reply.message === undefined ? "" : ` "${reply.message.slice(0, 160)}"`;
            broken.push(`  case ${index} (${fuzzCase.name}): ${verdict.broken}${message}\n    ${describeRequest(fuzzCase.request)}`);
          }
        });
        const tally = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).map(([key, n]) => `${key} ×${n}`).join(", ");
        summary.push(`${transport.name}: ${cases.length} requests: ${tally(classes)}${deviations.size > 0 ? `; tolerated: ${tally(deviations)}` : ""}`);
        const failures = broken.slice(0, 20).join("\n");
        expect(broken.length, `${transport.name} on the ${store}: ${broken.length} of ${cases.length} replies broke the rule; replay with FUZZ_SEED=${seed}\n${failures}\n`).to.equal(0);
      });
    }

    it("the server still answers, and logged no internal error", async () => {
      expect((await rooms.get({ room: world.room.name })).room!.sid).to.equal(world.room.sid);
      expect(server.logs.filter((line) => line.includes("internal error")), `FUZZ_SEED=${seed}`).to.deep.equal([]);
    });
  });
}

fuzz("memory store", 2 / 3, () => ({}));

describe("with a redis-server", () => {
  let redis: SharedRedis | undefined;
  before(async () => {
    redis = await emptySharedRedis();
  });
  fuzz("redis store", 1 / 3, () => ({ redisUrl: redis!.url }));
});
