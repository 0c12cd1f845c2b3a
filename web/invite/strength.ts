/** How hard a password is to guess, roughly: weak, fair or strong. */
export type Strength = "weak" | "fair" | "strong";

/**
 * A small estimate, not a cracker's model: bits from the length and the kinds of characters used,
 * the length counted at most twice the distinct characters (so "aaaaaaaaaaaa" is short), and no
 * top mark below 12 characters. Only a hint beside the server's own rules.
 */
export function estimateStrength(password: string): Strength {
  const characters = [...password];
  let pool = 0;
  if (/[a-z]/.test(password)) pool += 26;
  if (/[A-Z]/.test(password)) pool += 26;
  if (/[0-9]/.test(password)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(password)) pool += 33;
  const bits = Math.min(characters.length, 2 * new Set(characters).size) * Math.log2(Math.max(pool, 1));
  if (characters.length < 8 || bits < 40) return "weak";
  if (characters.length < 12 || bits < 64) return "fair";
  return "strong";
}
