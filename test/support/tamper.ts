// The characters of API keys and invite tokens (base64url).
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/** A url-safe character other than `c`, always: the next one in the alphabet, cyclically. */
export function otherChar(c: string): string {
  return URL_SAFE[(URL_SAFE.indexOf(c) + 1) % URL_SAFE.length] ?? "A";
}

/**
 * `text` with the character at `index` (negative: from the end) changed to a different one, so a
 * "wrong" key or token built from a random one is wrong every run, never by luck the same.
 */
export function withCharChanged(text: string, index = -1): string {
  const at = index < 0 ? text.length + index : index;
  return `${text.slice(0, at)}${otherChar(text.charAt(at))}${text.slice(at + 1)}`;
}
