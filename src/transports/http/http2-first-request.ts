import { decodeFirstHeaderBlock } from "./hpack-header-block.js";
import { http2Preface } from "./http2-preface.js";

// What the first bytes of an HTTP/2 connection say about its first request:
// "undecided" until its whole header block arrived; then its content-type
// (undefined when it has none or it could not be read); "unreadable" when
// the connection does something else first (data, a reset) or its block is
// not one this decoder reads.
export type FirstRequest = "undecided" | "unreadable" | { contentType: string | undefined };

export interface Opening {
  request: FirstRequest;
  // Where the client's first SETTINGS acknowledgement lies, once it came.
  settingsAck: { start: number; end: number } | undefined;
}

const frameType = { headers: 0x1, priority: 0x2, settings: 0x4, ping: 0x6, windowUpdate: 0x8, continuation: 0x9 };
const flag = { ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 };
// SETTINGS_MAX_FRAME_SIZE's initial value: no client may send larger frames
// before the server announced more.
const maxFrameSize = 16_384;

// Reads the frames of `head`, which starts with the client preface, for the
// first request and the acknowledgement of the server's first SETTINGS;
// "malformed" when they are no HTTP/2 frames.
export function readOpening(head: Buffer): Opening | "malformed" {
  let request: FirstRequest = "undecided";
  let settingsAck: Opening["settingsAck"];
  let block: Buffer[] | undefined;
  let streamId = 0;
  for (let offset = http2Preface.length; head.length >= offset + 9;) {
    const length = head.readUIntBE(offset, 3);
    const type = head[offset + 3]!;
    const flags = head[offset + 4]!;
    const id = head.readUInt32BE(offset + 5) & 0x7fffffff;
    if (length > maxFrameSize) return "malformed";
    const start = offset;
    const payload = offset + 9;
    if (head.length < payload + length) break;
    offset = payload + length;
    if (type === frameType.settings && flags & flag.ack && settingsAck === undefined) settingsAck = { start, end: offset };
    if (request !== "undecided") continue;
    if (block !== undefined) {
      if (type !== frameType.continuation || id !== streamId) {
        request = "unreadable";
        continue;
      }
      block.push(head.subarray(payload, payload + length));
    } else if (type === frameType.headers) {
      let first = payload;
      let end = payload + length;
      if (flags & flag.padded) end -= head[first++]!;
      if (flags & flag.priority) first += 5;
      if (end < first) return "malformed";
      streamId = id;
      block = [head.subarray(first, end)];
    } else {
      const beforeRequests = [frameType.settings, frameType.windowUpdate, frameType.priority, frameType.ping];
      if (!beforeRequests.includes(type)) request = "unreadable";
      continue;
    }
    if (flags & flag.endHeaders) {
      const fields = decodeFirstHeaderBlock(Buffer.concat(block));
      request = fields === undefined ? "unreadable" : { contentType: fields.find((field) => field.name === "content-type")?.value };
    }
  }
  return { request, settingsAck };
}

// gRPC proper, with or without a subtype or parameters; not gRPC-Web, which
// only connect-node serves.
export function isGrpcContentType(contentType: string | undefined): boolean {
  if (contentType === undefined || !contentType.startsWith("application/grpc")) return false;
  const next = contentType.charAt("application/grpc".length);
  return next === "" || next === "+" || next === ";";
}
