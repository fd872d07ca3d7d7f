import type * as grpc from "@grpc/grpc-js";

export type WritableCall = grpc.ServerWritableStream<Buffer, Buffer> | grpc.ServerDuplexStream<Buffer, Buffer>;

// The most bytes of a call's responses written and not yet sent to the client.
export const maxUnsentBytes = 1024 * 1024;

// Writes every response, serialized here, so that what waits for the client is
// counted in bytes: grpc-js' write() answers by message count (16 messages
// of any size), and a client that reads nothing would otherwise pin 16 pages
// per call. A write's callback comes when HTTP/2 flow control let its bytes
// go; the next response is pulled (and so read from the store) only when it
// fits under maxUnsentBytes. A cancelled call stops the responses: its
// callbacks never come, and a handler that streams without end (Watch) would
// otherwise be kept forever.
export async function writeBounded(
  call: WritableCall,
  responses: () => AsyncIterable<object>,
  serialize: (message: object) => Buffer,
): Promise<void> {
  let unsent = 0;
  let wake: (() => void) | undefined;
  const onCancelled = () => wake?.();
  call.once("cancelled", onCancelled);
  try {
    for await (const response of responses()) {
      if (call.cancelled) break;
      const bytes = serialize(response);
      while (unsent > 0 && unsent + bytes.length > maxUnsentBytes && !call.cancelled) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (call.cancelled) break;
      unsent += bytes.length;
      call.write(bytes, () => {
        unsent -= bytes.length;
        wake?.();
      });
    }
  } finally {
    call.off("cancelled", onCancelled);
  }
  call.end();
}
