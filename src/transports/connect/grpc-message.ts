import type { UniversalServerResponse } from "@connectrpc/connect/protocol";

// connect-es writes grpc-message with encodeURIComponent, which also escapes
// characters the gRPC spec sends as they are (";" as %3B, spaces as %20).
// The spec percent-encodes only bytes outside 0x20-0x7E and "%" itself; some
// clients show the message without decoding it. This answer carries the
// spec's form, in the headers (a trailers-only answer) and in the trailers,
// read when connect-node writes them, after the body.
export function withSpecGrpcMessage(response: UniversalServerResponse): UniversalServerResponse {
  if (response.header !== undefined) respell(response.header);
  return {
    ...response,
    get trailer() {
      if (response.trailer !== undefined) respell(response.trailer);
      return response.trailer;
    },
  };
}

function respell(headers: Headers): void {
  const encoded = headers.get("grpc-message");
  if (encoded === null) return;
  let message: string;
  try {
    message = decodeURIComponent(encoded);
  } catch {
    return;
  }
  headers.set("grpc-message", percentEncoded(message));
}

const unreserved = /^[\x20-\x24\x26-\x7e]*$/;

// The gRPC spec's Percent-Encoded form of a message's UTF-8 bytes.
export function percentEncoded(message: string): string {
  if (unreserved.test(message)) return message;
  let encoded = "";
  for (const byte of Buffer.from(message, "utf8")) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}
