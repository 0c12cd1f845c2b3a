import type { Answer } from "./api.js";
import type { Options } from "./types.js";

/** What the parts of the page share while someone is signed in. */
export interface Context {
  /** The signed-in key's options (GET /invites/options). */
  options(): Options;
  /** A request with the signed-in key. */
  call<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  /** Says something to screen readers (a polite live region). */
  announce(text: string): void;
  /**
   * Deals with an error that no field is about: the connection banner, or signing out when the
   * key is refused. False when it is neither, for the caller to show in its place.
   */
  handled(err: unknown): boolean;
}
