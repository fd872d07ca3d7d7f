import { Code, ConnectError } from "@connectrpc/connect";

// Called after each page of a streamed listing: ends the stream with a status
// a client can act on when its deadline passed or the server is stopping.
// Every page carries the token that resumes after it, so nothing is lost.
export function stopAfterPage(call: AbortSignal, draining: AbortSignal, nextPageToken: string): void {
  if (nextPageToken === "") return;
  if (call.aborted) throw ConnectError.from(call.reason, Code.Canceled);
  if (draining.aborted) {
    throw new ConnectError("the server is shutting down; resume with the next_page_token of the last page received", Code.Unavailable);
  }
}
