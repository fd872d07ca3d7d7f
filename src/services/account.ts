import { createContextKey, type HandlerContext } from "@connectrpc/connect";

// The caller's account, settled at the edge of the transport before a handler runs.
export const accountKey = createContextKey<string | undefined>(undefined, { description: "account sid of the caller" });

export function accountOf(context: HandlerContext): string {
  const account = context.values.get(accountKey);
  if (account === undefined) throw new Error("no account in the handler context");
  return account;
}
