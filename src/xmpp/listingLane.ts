// Listing shares Prosody with everything else: Prosody runs one command at a time on the
// component's stream, so an invite asked for behind four pages of 200 waited for all of them
// (issue 26.8: a bystander's p95 35–60× its own). Here a host's list commands go one at a time,
// each for at most `chunk` invites, and after each the lane stays shut for as long as that command
// took: whatever the listers do, an invite waits behind at most one chunk, and listing takes at
// most about half of Prosody's time per instance of the service.
import { setTimeout as sleep } from "node:timers/promises";
import type { InviteManager, InvitePage, ManagedInvite, PageRequest } from "./inviteManager.js";

export interface ListingLaneOptions {
  /** The most invites one list command asks Prosody for; a page of more takes several. */
  readonly chunk: number;
  /** After each command the lane stays shut for this many times as long as the command took. */
  readonly pause: number;
}

/**
 * Measured at 10,000 pending invites with four clients listing 200 at a time (BENCHMARKS.md), a
 * bystander's p95 ÷ its own: chunks of 20, 1.6–2.3×; 25, 2.4–3.0×; 50, 4–7×. Smaller chunks cost
 * the listers: a walk of the 10,000 took 15–17 s at 20, 11–13 s at 25, 3.8 s with no lane.
 */
export const LISTING_LANE: ListingLaneOptions = { chunk: 20, pause: 1 };

/** One host's lane: runs one task at a time, with a pause after each in proportion to its time. */
function lane(pause: number) {
  let tail: Promise<unknown> = Promise.resolve();
  return function run<T>(task: () => Promise<T>): Promise<T> {
    let took = 0;
    const result = tail.then(async () => {
      const started = performance.now();
      try {
        return await task();
      } finally {
        took = performance.now() - started;
      }
    });
    const rest = () => sleep(took * pause);
    tail = result.then(rest, rest);
    return result;
  };
}

/**
 * `manager` whose `list` asks for a page in chunks, through its host's lane; the chunks of one page
 * follow each other's cursors, so the page and its `next` are what one command for `limit` gives.
 */
export function laneListing(manager: InviteManager, options: ListingLaneOptions): InviteManager {
  const lanes = new Map<string, ReturnType<typeof lane>>();
  const laneOf = (host: string) => {
    let found = lanes.get(host);
    if (!found) lanes.set(host, (found = lane(options.pause)));
    return found;
  };
  async function list(host: string, page: PageRequest): Promise<InvitePage> {
    const run = laneOf(host);
    const invites: ManagedInvite[] = [];
    let after = page.after;
    // As many commands as a page of `limit` needs, however few each returns: a page of history
    // examines no more records than one command for `limit` would.
    for (let round = Math.ceil(page.limit / options.chunk); round > 0; round -= 1) {
      const limit = Math.min(options.chunk, page.limit - invites.length);
      const got = await run(() => manager.list(host, { ...page, ...(after ? { after } : {}), limit }));
      invites.push(...got.invites);
      after = got.next;
      if (!after || invites.length >= page.limit) break;
    }
    return { invites, ...(after ? { next: after } : {}) };
  }
  return { ...manager, list };
}
