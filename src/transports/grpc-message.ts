// grpc-message as the gRPC spec spells it: only bytes outside 0x20-0x7E, and
// "%" itself, are percent-encoded. connect-es (encodeURIComponent) and
// grpc-js (encodeURI) also escape characters the spec sends as they are
// (";" as %3B, spaces as %20), and some clients show the message undecoded.

const unreserved = /^[\x20-\x24\x26-\x7e]*$/;

// The spec's Percent-Encoded form of a message's UTF-8 bytes.
export function percentEncoded(message: string): string {
  if (unreserved.test(message)) return message;
  let encoded = "";
  for (const byte of Buffer.from(message, "utf8")) {
    encoded +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

// A grpc-message written by encodeURI or encodeURIComponent, in the spec's
// form; left as it is if it does not decode.
export function respelled(encoded: string): string {
  try {
    return percentEncoded(decodeURIComponent(encoded));
  } catch {
    return encoded;
  }
}
