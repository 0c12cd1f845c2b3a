/** What is wrong with a new password, as the form says it; undefined: nothing. */
export type PasswordProblem = "mismatch" | "too_short" | "too_long" | "contains_name";

export const MIN_PASSWORD_CHARACTERS = 8;
// Prosody's SASL PLAIN and SCRAM cap what a client may send; 1023 bytes leaves room in any of them.
export const MAX_PASSWORD_BYTES = 1023;

export function passwordProblem(
  password: string,
  confirm: string,
  username: string | undefined,
): PasswordProblem | undefined {
  if ([...password].length < MIN_PASSWORD_CHARACTERS) return "too_short";
  if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) return "too_long";
  if (username && password.toLowerCase().includes(username.toLowerCase())) return "contains_name";
  if (password !== confirm) return "mismatch";
  return undefined;
}
