import type { ConnectError } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";

// The IP address in grpc-js' peer string ("1.2.3.4:5678", "[::1]:5678").
export function addressOfPeer(peer: string): string {
  const colon = peer.lastIndexOf(":");
  const host = colon < 0 ? peer : peer.slice(0, colon);
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

// An error's details (such as a retry hint) as the grpc-status-details-bin
// trailer, encoded by connect-es as its own gRPC handler does; undefined
// for an error without details.
export function statusDetailsOf(error: ConnectError): grpc.Metadata | undefined {
  if (error.details.length === 0) return undefined;
  const encoded = setTrailerStatus(new Headers(), error).get("grpc-status-details-bin");
  if (encoded === null) return undefined;
  const metadata = new grpc.Metadata();
  metadata.set("grpc-status-details-bin", Buffer.from(encoded, "base64"));
  return metadata;
}
