import { fromJsonString } from "@bufbuild/protobuf";
import { gzipSync } from "node:zlib";
import { ParticipantService } from "../../../gen/rollcall/v1/participant_pb.js";
import { Random } from "../../support/random.js";
import { frame } from "../../support/wire/envelopes.js";
import type { Case, Protocol } from "./case.js";
import { unansweredJsonError } from "./replies.js";
import { maxRequestBytes } from "./settings.js";
import { giantHeaders, jsonPayload, padded, protoPayload, withAuthorization } from "./values.js";
import { decompressed, refused, type RpcTarget, shortName, type World } from "./world.js";

// RPC cases: Connect JSON and binary, gRPC and gRPC-Web requests with bad
// messages, envelopes, headers and paths.

export const unknownMethodPaths = [
  "/rollcall.v1.ParticipantService/Nope",
  "/rollcall.v1.Nope/Get",
  "/rollcall.v1.RoomService/get",
  "/rollcall.v1.RoomService/Get/",
  "//rollcall.v1.RoomService/Get",
  "/rollcall.v1.RoomService",
  "/",
  "/rollcall.v1.RoomService/Get%00",
];

export function connectJsonCase(rng: Random, world: World): Case {
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
  let headers: [string, string][] = [
    [
      "content-type",
      rng.chance(0.85)
        ? "application/json"
        : rng.pick([
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "APPLICATION/JSON",
            "application/json; charset=latin1",
            "text/json",
            "application/x-www-form-urlencoded",
            "application/jsonx",
            "",
          ]),
    ],
  ];
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

export function connectBinaryCase(rng: Random, world: World): Case {
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
    headers.push([
      "content-type",
      rng.chance(0.9)
        ? "application/proto"
        : rng.pick(["application/protobuf", "application/x-protobuf", "application/proto; charset=utf-8"]),
    ]);
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

export interface FramedBody {
  name: string;
  body: Buffer;
  // The messages in the frames, as sent (compressed or not).
  payloads: Buffer[];
  encoding?: string;
}

// A body of gRPC-style envelopes, well formed or not.
export function framedBody(rng: Random, target: RpcTarget, world: World, json: boolean): FramedBody {
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
      return framed("two frames", [
        [0, payload()],
        [0, payload()],
      ]);
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
export function jsonErrorOf(target: RpcTarget, bytes: Uint8Array): string | undefined {
  try {
    fromJsonString(target.method.input, new TextDecoder().decode(bytes), { ignoreUnknownFields: true });
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

// gRPC over HTTP/2 to either port, or gRPC-Web (mostly over HTTP/1.1) to the main one.
export function grpcCase(rng: Random, world: World, port: "main" | "grpc", web: boolean): Case {
  const target = rng.pick(world.targets);
  const framed = framedBody(rng, target, world, false);
  const http = web && rng.chance(0.8) ? 1 : 2;
  let name = `${shortName(target)}: ${framed.name}`;
  let contentType = web ? "application/grpc-web+proto" : "application/grpc";
  if (rng.chance(0.1)) {
    contentType = web
      ? rng.pick([
          "application/grpc-web",
          "application/grpc-web+json",
          "application/grpc-web-text",
          "application/grpc-web-text+proto",
          "application/grpc",
          "text/plain",
          "",
        ])
      : rng.pick([
          "application/grpc+proto",
          "application/grpc+json",
          "application/grpcx",
          "application/grpc+foo",
          "text/plain",
          "application/json",
          "application/proto",
          "",
        ]);
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
  const unanswered =
    jsonCodec && framed.payloads.some((p) => [p, ...decompressed(p)].some((bytes) => /\p{Cs}/u.test(jsonErrorOf(target, bytes) ?? "")))
      ? unansweredJsonError
      : undefined;
  return { name, protocol, request: { http, port, method, path, headers, body: framed.body }, unanswered };
}

// How the server answers a request of this content type: the main port
// speaks every protocol, the grpc-js port gRPC alone.
export function protocolOf(contentType: string, port: "main" | "grpc"): Protocol {
  if (port === "grpc") return "grpc";
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  return contentType.startsWith("application/connect+") ? "connect-stream" : "connect";
}
