import { InvalidArgumentError, Option, type Command } from "commander";
import { DEFAULT_GRACE, MAX_GRACE_MS, parseGrace } from "../keys/durations.js";
import { rotateKey, withKeyStore, type Output } from "./keyCommands.js";
import { rotateWebhook } from "./webhookCommands.js";

type Env = Record<string, string | undefined>;

const MAX_GRACE = `${MAX_GRACE_MS / 86_400_000}d`;

function grace(value: string): number {
  const result = parseGrace(value);
  if (result === undefined) {
    throw new InvalidArgumentError(
      `expected 0 (the old secret ends at once) or a duration such as 1h or 7d, at most ${MAX_GRACE}`,
    );
  }
  return result;
}

// A new Option for each command that takes it.
const graceOption = () =>
  new Option("--grace <duration>", `how long the old secret keeps working: 0 ends it at once, at most ${MAX_GRACE}`)
    .argParser(grace)
    .default(grace(DEFAULT_GRACE), DEFAULT_GRACE);

/**
 * `rotate HOST ID` and `webhook rotate HOST ID`: a new secret, printed once on the last line, while
 * the old one keeps working for --grace (src/keys/rotation.ts, src/webhooks/rotation.ts).
 */
export function addRotateCommands(
  program: Command,
  webhook: Command,
  deps: { readonly env: Env; readonly io: Output },
  host: (value: string) => string,
): void {
  program
    .command("rotate")
    .description(
      "give the key ID of HOST a new secret, printed once on the last line; the old one works until --grace ends",
    )
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the key id (the part before the slash; put -- before an id that begins with -)")
    .addOption(graceOption())
    .action((h: string, id: string, opts: { grace: number }) =>
      withKeyStore(deps.env, deps.io, { writes: true }, (keys) => rotateKey(keys, deps.io, h, id, opts.grace)),
    );
  webhook
    .command("rotate")
    .description("give a webhook a new signing secret, printed once on the last line; both sign until --grace ends")
    .argument("<host>", "the VirtualHost", host)
    .argument("<id>", "the webhook id")
    .addOption(graceOption())
    .action((h: string, id: string, opts: { grace: number }) => rotateWebhook(deps.env, deps.io, h, id, opts.grace));
}
