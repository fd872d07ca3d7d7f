import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Compression } from "@connectrpc/connect/protocol";

// A request whose bytes are no message of the method's input type, or whose
// message is flagged compressed while the request names no encoding, is the
// caller's error: invalid_argument (HTTP 400). connect-es reports both as
// internal (500), so the request body is checked here first, on its way in,
// and fails with invalid_argument before connect-es reads it: every protocol
// then answers in its own framing. (gRPC's compression spec would make a
// compressed flag without an encoding internal; it is the caller's fault all
// the same, and the gRPC port answers undecodable messages invalid_argument too.)

interface Framing {
  enveloped: boolean;
  binary: boolean;
  // The header that names the encoding of the body or of each message.
  encodingHeader: string;
  // Connect streams: an envelope with this flag ends the stream, no message.
  endStreamFlag?: number;
}

// By content type, without parameters; other types are connect-es's to refuse.
const framings: Record<string, Framing> = {
  "application/proto": { enveloped: false, binary: true, encodingHeader: "content-encoding" },
  "application/connect+proto": { enveloped: true, binary: true, encodingHeader: "connect-content-encoding", endStreamFlag: 0b10 },
  "application/connect+json": { enveloped: true, binary: false, encodingHeader: "connect-content-encoding", endStreamFlag: 0b10 },
  "application/grpc": { enveloped: true, binary: true, encodingHeader: "grpc-encoding" },
  "application/grpc+proto": { enveloped: true, binary: true, encodingHeader: "grpc-encoding" },
  "application/grpc+json": { enveloped: true, binary: false, encodingHeader: "grpc-encoding" },
  "application/grpc-web": { enveloped: true, binary: true, encodingHeader: "grpc-encoding" },
  "application/grpc-web+proto": { enveloped: true, binary: true, encodingHeader: "grpc-encoding" },
  "application/grpc-web+json": { enveloped: true, binary: false, encodingHeader: "grpc-encoding" },
};

const compressedFlag = 0b1;

export interface DecodableOptions {
  input: DescMessage;
  compressions: readonly Compression[];
  readMaxBytes: number;
}

// The body, checked as connect-es will read it. Bytes pass on unchanged;
// where a check cannot be made the same way connect-es would (an encoding it
// does not know, a message over readMaxBytes, bytes that do not decompress),
// they pass on unchecked and connect-es answers as it does.
export function decodableBody(header: Headers, body: AsyncIterable<Uint8Array>, options: DecodableOptions): AsyncIterable<Uint8Array> {
  const framing = framings[(header.get("content-type") ?? "").split(";", 1)[0]!.trim().toLowerCase()];
  if (framing === undefined) return body;
  const encoding = header.get(framing.encodingHeader) ?? "identity";
  const compression = encoding === "identity" ? null : options.compressions.find((c) => c.name === encoding);
  if (compression === undefined) return body;
  const decodable = async (data: Uint8Array, flags: number): Promise<void> => {
    const compressed = (flags & compressedFlag) !== 0;
    if (compressed && compression === null) {
      throw new ConnectError(
        `a message is flagged compressed, but the request has no ${framing.encodingHeader} header`,
        Code.InvalidArgument,
      );
    }
    if (!framing.binary || (flags & (framing.endStreamFlag ?? 0)) !== 0) return;
    let bytes = data;
    if (compressed) {
      try {
        bytes = await compression!.decompress(data, options.readMaxBytes);
      } catch {
        return;
      }
    }
    decodes(options.input, bytes);
  };
  return framing.enveloped
    ? checkedEnvelopes(body, decodable, options.readMaxBytes)
    : checkedWhole(body, (data) => decodable(data, compression === null ? 0 : compressedFlag), options.readMaxBytes);
}

// A Connect GET's message, from its query (connect-es has no body to read
// there): the error to answer with, if it does not decode.
export function undecodableQuery(url: URL, input: DescMessage): ConnectError | undefined {
  const query = url.searchParams;
  if (query.get("encoding") !== "proto" || query.has("compression")) return undefined;
  const message = query.get("message") ?? "";
  try {
    decodes(input, query.get("base64") === "1" ? Buffer.from(message, "base64url") : new TextEncoder().encode(message));
    return undefined;
  } catch (error) {
    return error as ConnectError;
  }
}

function decodes(input: DescMessage, bytes: Uint8Array): void {
  try {
    fromBinary(input, bytes);
  } catch (error) {
    throw new ConnectError(
      `cannot decode message ${input.typeName} from binary: ${error instanceof Error ? error.message : String(error)}`,
      Code.InvalidArgument,
    );
  }
}

// Unary Connect: the whole body is one message.
async function* checkedWhole(
  body: AsyncIterable<Uint8Array>,
  check: (data: Uint8Array) => Promise<void>,
  readMaxBytes: number,
): AsyncIterable<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size > readMaxBytes) {
      yield chunk;
      continue;
    }
    chunks.push(chunk);
    size += chunk.byteLength;
    if (size > readMaxBytes) yield* chunks.splice(0);
  }
  if (size <= readMaxBytes) {
    const whole = Buffer.concat(chunks);
    await check(whole);
    yield whole;
  }
}

// Enveloped protocols: 1 byte of flags, 4 of length, then the message. Each
// envelope is passed on once checked.
async function* checkedEnvelopes(
  body: AsyncIterable<Uint8Array>,
  check: (data: Uint8Array, flags: number) => Promise<void>,
  readMaxBytes: number,
): AsyncIterable<Uint8Array> {
  let pending: Buffer = Buffer.alloc(0);
  let checking = true;
  for await (const chunk of body) {
    if (!checking) {
      yield chunk;
      continue;
    }
    pending = pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (pending.length - offset >= 5) {
      const flags = pending[offset]!;
      const length = pending.readUInt32BE(offset + 1);
      // Too long a message is refused by connect-es for its size.
      if (length > readMaxBytes) {
        checking = false;
        break;
      }
      if (pending.length - offset - 5 < length) break;
      await check(pending.subarray(offset + 5, offset + 5 + length), flags);
      offset += 5 + length;
    }
    if (!checking) {
      yield pending;
      pending = Buffer.alloc(0);
    } else if (offset > 0) {
      yield pending.subarray(0, offset);
      pending = pending.subarray(offset);
    }
  }
  if (pending.length > 0) yield pending;
}
