import type Keyv from "keyv";

/** keyv's namespace for key records, in every backend. */
export const NAMESPACE = "invites-api";

export function quiet(keyv: Keyv): Keyv {
  // keyv re-emits store errors as events; the rejected promises carry them to callers already.
  keyv.on("error", () => {});
  return keyv;
}
