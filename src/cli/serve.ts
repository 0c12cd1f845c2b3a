import { start } from "../app.js";
import { loadServiceConfig } from "../config.js";
import { createLogger } from "../log.js";

type Env = Record<string, string | undefined>;

/**
 * Runs the service until SIGTERM or SIGINT: the first stops it gracefully (exit 0), a second exits
 * at once (exit 130). Configuration errors are thrown before anything starts.
 */
export async function serve(env: Env): Promise<number> {
  const config = loadServiceConfig(env);
  const log = createLogger(config.logLevel);
  const service = await start(config, log);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        log.warn({ signal }, "second signal: exiting now");
        process.exit(130);
      }
      stopping = true;
      log.info({ signal }, "shutting down");
      service.stop().then(
        () => resolve(0),
        (err: Error) => {
          log.error({ err: err.message }, "shutdown failed");
          resolve(1);
        },
      );
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
  });
}
