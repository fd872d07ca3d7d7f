// HTTP/2 frames as bytes (RFC 9113), for tests that speak HTTP/2 as no
// client library would: a preface alone, streams never ended, floods of
// resets. Header blocks use HPACK literals without indexing or Huffman.

export const preface = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export const frameType = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7, windowUpdate: 8 } as const;
export const flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4 } as const;
export const errorCode = { cancel: 8, refusedStream: 7, enhanceYourCalm: 11 } as const;

export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

export const settings = () => frame(frameType.settings, 0, 0);
export const settingsAck = () => frame(frameType.settings, flag.ack, 0);

function literal(text: string): Buffer {
  const bytes = Buffer.from(text, "latin1");
  if (bytes.length > 126) throw new Error("a literal this helper encodes has at most 126 bytes");
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

// A request's HEADERS frame: POST `path` with `contentType`, the body to follow unless endStream.
export function requestHeaders(streamId: number, path: string, contentType: string, options: { endStream?: boolean } = {}): Buffer {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":authority", "127.0.0.1"],
    [":path", path],
    ["content-type", contentType],
    ["te", "trailers"],
  ];
  const block = Buffer.concat(fields.flatMap(([name, value]) => [Buffer.from([0]), literal(name), literal(value)]));
  return frame(frameType.headers, flag.endHeaders | (options.endStream ? flag.endStream : 0), streamId, block);
}

export const rstStream = (streamId: number, code: number = errorCode.cancel) => {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(frameType.rstStream, 0, streamId, payload);
};

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

// The whole frames in `bytes` (a server's, which has no preface).
export function frames(bytes: Buffer): Frame[] {
  const all: Frame[] = [];
  for (let offset = 0; offset + 9 <= bytes.length;) {
    const length = bytes.readUIntBE(offset, 3);
    if (offset + 9 + length > bytes.length) break;
    all.push({
      type: bytes[offset + 3]!,
      flags: bytes[offset + 4]!,
      streamId: bytes.readUInt32BE(offset + 5) & 0x7fffffff,
      payload: bytes.subarray(offset + 9, offset + 9 + length),
    });
    offset += 9 + length;
  }
  return all;
}

// The values of the server's SETTINGS frames, by identifier (3 is MAX_CONCURRENT_STREAMS).
export function settingsValues(bytes: Buffer): Map<number, number> {
  const values = new Map<number, number>();
  for (const { type, flags, payload } of frames(bytes)) {
    if (type !== frameType.settings || flags & flag.ack) continue;
    for (let offset = 0; offset + 6 <= payload.length; offset += 6)
      values.set(payload.readUInt16BE(offset), payload.readUInt32BE(offset + 2));
  }
  return values;
}
