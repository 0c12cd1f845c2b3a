import type Keyv from "keyv";
import { AppError } from "../errors.js";

/**
 * Whether a person wants the component's message when someone joins with their invite:
 * `notify:JID` in ServiceStore.people, false once they turn it off on the page; anything else
 * (never set) is yes.
 */
export interface InviterNotices {
  wanted(jid: string): Promise<boolean>;
  set(jid: string, wanted: boolean): Promise<void>;
}

export const notifyKey = (jid: string): string => `notify:${jid}`;

export function inviterNotices(people: Keyv): InviterNotices {
  const failed = (err: unknown) => new AppError("store_unavailable", "people store failed", { cause: err });
  return {
    async wanted(jid) {
      try {
        return (await people.get<boolean>(notifyKey(jid))) !== false;
      } catch (err) {
        throw failed(err);
      }
    },
    async set(jid, wanted) {
      try {
        await people.set(notifyKey(jid), wanted);
      } catch (err) {
        throw failed(err);
      }
    },
  };
}
