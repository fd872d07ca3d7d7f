import type { CallbackFailureListing, Store } from "../store/store.js";
import { pageSizeOf } from "./rules.js";

// What operators read about status callbacks: the ones given up on.
export class CallbackOperations {
  constructor(private readonly store: Store) {}

  // The account's most recent failures, newest first; a page size of 0 or
  // none is the default.
  async listFailures(accountSid: string, pageSize: number | undefined, signal?: AbortSignal): Promise<CallbackFailureListing> {
    return this.store.listCallbackFailures(accountSid, pageSizeOf(pageSize || undefined), signal);
  }
}
