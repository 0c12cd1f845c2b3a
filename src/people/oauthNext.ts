// Where a sign-in may send the person afterwards: only a path on this origin, so that the service is
// no open redirect (a link to /session/oauth?next=https://evil.example would otherwise end a real
// sign-in on the attacker's page).

const MAX_LENGTH = 2048;
// Printable ASCII without the backslash (which browsers read as a slash: "/\evil.example").
const PATH = /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/;
const PROBE = "https://origin.invalid";

/** `next` when it is an absolute path of this origin ("/x"), never "//x", "/\x" or a URL; else undefined. */
export function sameOriginPath(next: unknown): string | undefined {
  if (typeof next !== "string" || next.length > MAX_LENGTH || !PATH.test(next)) return undefined;
  // And as a browser resolves it, in case a form slipped past the pattern.
  try {
    return new URL(next, PROBE).origin === PROBE ? next : undefined;
  } catch {
    return undefined;
  }
}
