import { envelopes } from "../../support/wire/envelopes.js";
import type { Outcome } from "../../support/wire/exchange.js";
import { headerFields } from "../../support/wire/header-fields.js";
import type { Case, Protocol } from "./case.js";
import { strict } from "./settings.js";
import { codeNames } from "../../../src/transports/call-policy.js";

// Reading a reply as its protocol frames it, and the verdict on it: a client
// error, a known library deviation, or broken.

// The codes a client causes: client errors.
export const clientCodes = new Set([
  "invalid_argument",
  "not_found",
  "unauthenticated",
  "resource_exhausted",
  "failed_precondition",
  "already_exists",
  "unimplemented",
  "out_of_range",
  "permission_denied",
  "canceled",
]);

// Replies that break the rule inside a library, where rollcall's own code
// never sees the request. They are counted in the summary, not failed,
// unless FUZZ_STRICT=1.
export const knownDeviations: { code: string; message: RegExp; name: string }[] = [
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
export const unansweredJsonError = "connect-es: lone surrogate in grpc-message, never answered";

export interface Reply {
  // HTTP status; 0 when no reply came.
  status: number;
  // The Connect or gRPC code the reply carries, if any.
  code?: string;
  message?: string;
  // Why no reply came.
  failure?: string;
}

// The codes gRPC clients read from an HTTP/2 stream reset (PROTOCOL-HTTP2.md, "Errors").
export const resetCodes: Record<number, string> = { 7: "unavailable", 8: "canceled", 11: "resource_exhausted", 12: "permission_denied" };

export function replyOf(protocol: Protocol, outcome: Outcome): Reply {
  if ("failure" in outcome) return { status: 0, failure: outcome.failure };
  if ("reset" in outcome)
    return { status: 0, code: resetCodes[outcome.reset] ?? "internal", message: `RST_STREAM with error code ${outcome.reset}` };
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

export function jsonError(body: Buffer): { code?: string; message?: string } {
  try {
    const parsed = JSON.parse(body.toString("utf8")) as { code?: unknown; message?: unknown };
    if (typeof parsed.code !== "string") return {};
    // A message that is no string breaks the protocol: shown as its JSON.
    const message = typeof parsed.message === "string" ? parsed.message : parsed.message == null ? "" : JSON.stringify(parsed.message);
    return { code: parsed.code, message };
  } catch {
    return {};
  }
}

export function endStreamError(body: Buffer): { code: string; message?: string } {
  for (const { flags, data } of envelopes(body)) {
    if ((flags & 0b10) === 0) continue;
    try {
      const end = JSON.parse(data.toString("utf8")) as { error?: { code?: string; message?: string } };
      return end.error === undefined
        ? { code: "ok" }
        : { code: end.error.code ?? "no code in the end-stream error", message: end.error.message };
    } catch {
      return { code: "an undecodable end-stream message" };
    }
  }
  return { code: "no end-stream message" };
}

export function grpcWebTrailer(body: Buffer): Record<string, string> {
  for (const { flags, data } of envelopes(body)) {
    if ((flags & 0x80) !== 0) return headerFields(data.toString("latin1").split("\r\n"));
  }
  return {};
}

export function grpcStatus(fields: Record<string, string>): { code: string; message?: string } {
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

export function classOf(reply: Reply): string {
  if (reply.failure !== undefined) return "no reply";
  if (reply.status === 0) return `reset ${reply.code}`;
  return reply.code === undefined ? `HTTP ${reply.status}` : `${reply.status === 200 ? "" : `HTTP ${reply.status} `}${reply.code}`;
}

export type Verdict = "client error" | { deviation: string } | { broken: string };

export function verdictOf(reply: Reply, fuzzCase: Case): Verdict {
  if (reply.failure !== undefined)
    return fuzzCase.unanswered !== undefined && !strict ? { deviation: fuzzCase.unanswered } : { broken: reply.failure };
  if (reply.code !== undefined && !clientCodes.has(reply.code)) {
    const known = knownDeviations.find((deviation) => deviation.code === reply.code && deviation.message.test(reply.message ?? ""));
    return known !== undefined && !strict ? { deviation: known.name } : { broken: `${classOf(reply)} is not a client error` };
  }
  // gRPC, gRPC-Web and Connect streams carry their errors in a 200 response,
  // a reset in its error code, and Connect's HTTP status for unimplemented is 501.
  const carried =
    reply.code !== undefined && (reply.status === 200 || reply.status === 0 || (reply.code === "unimplemented" && reply.status === 501));
  if (!carried && (reply.status < 400 || reply.status > 499)) return { broken: `HTTP ${reply.status} is not a client error` };
  if (fuzzCase.status !== undefined && reply.status !== fuzzCase.status) return { broken: `HTTP ${reply.status}, not ${fuzzCase.status}` };
  return "client error";
}
