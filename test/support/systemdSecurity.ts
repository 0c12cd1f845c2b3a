// `systemd-analyze security`'s overall exposure level (0 is best, 10 worst) for invites-api's unit:
// rated from the file alone in the unit tests, and as a running systemd loaded it in test/systemd.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

export const UNIT_FILE = fileURLToPath(new URL("../../packaging/systemd/invites-api.service", import.meta.url));

/** The score in the last line of its report: "→ Overall exposure level for invites-api.service: 1.1 OK". */
export function overallExposure(report: string): number {
  const match = /Overall exposure level for \S+: (\d+\.\d)\b/.exec(report);
  if (!match) throw new Error(`no overall exposure level in systemd-analyze's report:\n${report}`);
  return Number(match[1]);
}

/**
 * Rates a unit file as written, without a running systemd (`--offline=true`, systemd 250 and
 * later), the unit named by the file's name. Its User= need not exist on this machine.
 */
export async function rateUnitFile(path: string = UNIT_FILE): Promise<{ exposure: number; report: string }> {
  const report = await run("systemd-analyze", ["security", "--offline=true", "--no-pager", path]).then(
    ({ stdout }) => stdout,
    (err: NodeJS.ErrnoException & { stderr?: string }) => {
      if (err.code === "ENOENT") throw new Error("systemd-analyze is not installed (apt-get install systemd)");
      throw new Error(`systemd-analyze security --offline=true ${path} failed: ${err.stderr ?? err.message}`);
    },
  );
  return { exposure: overallExposure(report), report };
}
