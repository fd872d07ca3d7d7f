import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { respelled } from "../grpc-message.js";

// connect-es writes grpc-message with encodeURIComponent; this answer carries
// the spec's form (../grpc-message.ts), in the headers (a trailers-only
// answer) and in the trailers, read when connect-node writes them, after the body.
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
  if (encoded !== null) headers.set("grpc-message", respelled(encoded));
}
