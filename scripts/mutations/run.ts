// npm run test:mutations [-- --only NAME] [-- --list] [-- --no-baseline]: applies each change of
// mutations.ts, one at a time, to a scratch copy of the working tree (what is checked out, uncommitted
// changes included), builds when the change is in src/ or web/, runs the tests it names and expects
// them to fail. Exits 1 when a change survives, when a change no longer applies (its text is not in
// its file exactly once), or when the tests fail without any change (the baseline, run first: a
// broken environment would otherwise "kill" every change). Sequential: the end-to-end tests start
// Prosody, Redis, PostgreSQL and Chromium, and CI machines have two cores.
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MUTATIONS, type Mutation } from "./mutations.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** A run of tests that takes longer than this is stopped (each test file has its own, shorter, limit). */
const RUN_LIMIT_MS = 20 * 60_000;

const { values: opts } = parseArgs({
  options: {
    only: { type: "string", multiple: true },
    list: { type: "boolean", default: false },
    "no-baseline": { type: "boolean", default: false },
  },
});

// The package.json script whose flags each folder's tests run with: its command, with the file
// list it ends with (a glob) replaced by the mutation's files.
const SCRIPTS: Record<string, string> = {
  "test/unit": "test:unit",
  "test/e2e": "test:e2e",
  "test/e2e@13": "test:e2e:13",
  "test/logs": "test:logs",
  "test/systemd": "test:systemd",
};

interface TestRun {
  readonly label: string;
  readonly command: string;
}

type Outcome = "killed" | "SURVIVED" | "not applied" | "build failed" | "no test ran" | "baseline failed" | "stopped";

interface Row {
  readonly name: string;
  readonly tests: string;
  readonly result: Outcome;
  readonly seconds: number;
  readonly detail: string;
}

const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
const globRegExp = (glob: string) =>
  new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")}$`);

/** The shell commands that run a mutation's tests, one per package.json script; or why not. */
function testRuns(m: Mutation): TestRun[] | string {
  const byScript = new Map<string, string[]>();
  for (const file of m.tests) {
    const folder = dirname(file);
    const script = SCRIPTS[m.prosody === "13" ? `${folder}@13` : folder];
    if (!script) return `${file}: no test script for ${folder}${m.prosody === "13" ? " on Prosody 13" : ""}`;
    if (!existsSync(join(ROOT, file))) return `${file} does not exist`;
    byScript.set(script, [...(byScript.get(script) ?? []), file]);
  }
  const runs: TestRun[] = [];
  for (const [script, files] of byScript) {
    const text = scripts[script];
    const glob = text?.match(/ (test\/\S*\*\S*)$/)?.[1];
    if (!text || !glob) return `package.json's ${script} does not end with a test file glob`;
    const outside = files.find((f) => !globRegExp(glob).test(f));
    if (outside) return `${outside} is not among ${script}'s files (${glob})`;
    const pattern = m.pattern ? ` --test-name-pattern=${quote(m.pattern)}` : "";
    runs.push({
      label:
        files.map((f) => f.replace(/^test\//, "")).join(" ") +
        (m.pattern ? ` /${m.pattern}/` : "") +
        (m.prosody === "13" ? " (Prosody 13)" : ""),
      command: `${text.slice(0, -glob.length - 1)}${pattern} ${files.map(quote).join(" ")}`,
    });
  }
  return runs;
}

/** Why a mutation cannot be applied to the working tree, or undefined. */
function problemOf(m: Mutation): string | undefined {
  const path = join(ROOT, m.file);
  if (!existsSync(path)) return `${m.file} does not exist`;
  const found = readFileSync(path, "utf8").split(m.search).length - 1;
  if (found !== 1) return `its text is in ${m.file} ${found} times, not once: ${JSON.stringify(m.search)}`;
  if (m.search === m.replace) return "it changes nothing";
  if (m.tests.length === 0) return "it names no test";
  const runs = testRuns(m);
  return typeof runs === "string" ? runs : undefined;
}

const names = MUTATIONS.map((m) => m.name);
const doubles = names.filter((n, i) => names.indexOf(n) !== i);
// --only takes a name, or a part of names (case aside): `--only ledger` runs both ledger changes.
const picks = (only: string, name: string) =>
  names.includes(only) ? name === only : name.toLowerCase().includes(only.toLowerCase());
const unknown = (opts.only ?? []).filter((only) => !names.some((name) => picks(only, name)));
const chosen = opts.only ? MUTATIONS.filter((m) => opts.only?.some((only) => picks(only, m.name))) : MUTATIONS;

if (opts.list) {
  for (const m of MUTATIONS) {
    const runs = testRuns(m);
    console.log(`${m.name}\n  ${m.file}\n  ${typeof runs === "string" ? runs : runs.map((r) => r.label).join("; ")}`);
  }
  process.exit(0);
}

const problems = [
  ...doubles.map((n) => `"${n}": two mutations have this name`),
  ...unknown.map((n) => `--only "${n}": no such mutation (--list shows them)`),
  ...MUTATIONS.flatMap((m) => {
    const why = problemOf(m);
    return why ? [`"${m.name}": ${why}`] : [];
  }),
];
if (problems.length > 0) {
  console.error(`Mutations that cannot be applied:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  process.exit(1);
}

const work = mkdtempSync(join(tmpdir(), "invites-api-mutations-"));
const logs = join(work, "logs");
mkdirSync(logs);
const base = join(work, "base");
let running: ChildProcess | undefined;
let stopping = false;

/** Stops the child's whole process group: the test runner and the servers its tests started. */
function stopRunning(): void {
  const pid = running?.pid;
  if (!pid) return;
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    // Already gone.
  }
  setTimeout(() => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Gone after SIGTERM.
    }
  }, 10_000).unref();
}

function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  console.error(`\n${signal}: stopping the current run and removing the scratch copies`);
  stopRunning();
  if (!running) cleanUp(130);
}
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

function cleanUp(code: number): never {
  rmSync(base, { recursive: true, force: true });
  rmSync(join(work, "mutant"), { recursive: true, force: true });
  if (code === 0) rmSync(work, { recursive: true, force: true });
  else console.error(`Logs of each run: ${logs}`);
  process.exit(code);
}

/** Runs a shell command in `cwd`, its output to `log`; resolves with its exit code and output. */
function sh(command: string, cwd: string, log: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const env: Record<string, string | undefined> = { ...process.env };
    // The log scan's records are for `npm test`'s own end-to-end runs, not for these.
    delete env.TEST_LOG_DIR;
    // Its own process group, so that the whole of a run can be stopped at once.
    const child = spawn("sh", ["-c", command], { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    running = child;
    let output = "";
    const collect = (chunk: Buffer) => (output += chunk.toString());
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const limit = setTimeout(() => {
      output += `\n[run.ts] stopped after ${RUN_LIMIT_MS / 60_000} minutes\n`;
      stopRunning();
    }, RUN_LIMIT_MS);
    child.on("close", (code, signal) => {
      clearTimeout(limit);
      running = undefined;
      writeFileSync(log, `$ ${command}\n${output}`);
      resolve({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

/** The scratch copy: the working tree's files (tracked and untracked, not ignored), node_modules linked. */
function copyWorkingTree(to: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  })
    .split("\0")
    .filter((f) => f && existsSync(join(ROOT, f)));
  for (const file of new Set(files)) {
    mkdirSync(dirname(join(to, file)), { recursive: true });
    cpSync(join(ROOT, file), join(to, file), { verbatimSymlinks: true });
  }
  symlinkSync(join(ROOT, "node_modules"), join(to, "node_modules"));
}

const counts = (output: string) => ({
  pass: Number(output.match(/^ℹ pass (\d+)$/m)?.[1] ?? 0),
  fail: Number(output.match(/^ℹ fail (\d+)$/m)?.[1] ?? 0),
});

/** The tests that failed, each with its error's first line, from the spec reporter's summary. */
function failures(output: string): string {
  const summary = output.split(/^✖ failing tests:$/m)[1] ?? "";
  const lines = summary.split("\n");
  const found: string[] = [];
  lines.forEach((line, i) => {
    const name = line.match(/^✖ (.*?)(?: \([\d.]+m?s\))?$/)?.[1];
    if (name) found.push(`${name}: ${(lines[i + 1] ?? "").trim().slice(0, 120)}`);
  });
  return [...new Set(found)].slice(0, 2).join("; ");
}

const elapsed = (since: number) => Math.round((performance.now() - since) / 1_000);
const slug = (name: string) => name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");

/** Applies one change to a copy of the built base, builds it if needed, runs its tests, removes the copy. */
async function tryMutant(m: Mutation, runs: readonly TestRun[]): Promise<{ result: Outcome; detail: string }> {
  const mutant = join(work, "mutant");
  const log = join(logs, slug(m.name));
  try {
    cpSync(base, mutant, { recursive: true, verbatimSymlinks: true });
    const path = join(mutant, m.file);
    const text = readFileSync(path, "utf8");
    // Checked again on the copy: the working tree may have changed since the check at the start.
    if (text.split(m.search).length !== 2) return { result: "not applied", detail: `not once in ${m.file}` };
    // A function, so that `$&` and the like in the replacement are taken as written.
    const mutated = text.replace(m.search, () => m.replace);
    writeFileSync(path, mutated);
    if (/^(src|web)\//.test(m.file)) {
      const build = await sh("npm run build", mutant, `${log}.build.log`);
      if (stopping) return { result: "stopped", detail: "" };
      if (build.code !== 0) return { result: "build failed", detail: `${log}.build.log` };
    }
    for (const [i, run] of runs.entries()) {
      const { code, output } = await sh(run.command, mutant, `${log}.${i + 1}.log`);
      if (stopping) return { result: "stopped", detail: "" };
      if (code !== 0) return { result: "killed", detail: failures(output) || `exit ${code}` };
      const { pass, fail } = counts(output);
      if (pass === 0 || fail > 0) return { result: "no test ran", detail: `${log}.${i + 1}.log` };
    }
    return { result: "SURVIVED", detail: `${log}.*.log` };
  } finally {
    rmSync(mutant, { recursive: true, force: true });
  }
}

async function runAll(): Promise<number> {
  const started = performance.now();
  console.log(`Scratch copy of ${ROOT} in ${work}; building it`);
  copyWorkingTree(base);
  const built = await sh("npm run build", base, join(logs, "build.log"));
  if (built.code !== 0) {
    console.error(`The unchanged copy does not build: see ${join(logs, "build.log")}`);
    return 1;
  }

  // Test runs that fail without any change: a change cannot be said to be caught by them.
  const broken = new Map<string, string>();
  const runsOf = new Map(chosen.map((m) => [m, testRuns(m) as TestRun[]]));
  if (!opts["no-baseline"]) {
    // Each distinct test run once without a change: it must pass, with at least one test run.
    const baseline = new Map([...runsOf.values()].flat().map((r) => [r.command, r.label]));
    console.log(`Baseline: ${baseline.size} test runs without a change`);
    for (const [i, [command, label]] of [...baseline].entries()) {
      const t = performance.now();
      const { code, output } = await sh(command, base, join(logs, `baseline-${i + 1}.log`));
      if (stopping) return 130;
      const { pass, fail } = counts(output);
      const ok = code === 0 && pass > 0 && fail === 0;
      console.log(`  ${ok ? "pass" : "FAIL"} ${String(elapsed(t)).padStart(4)} s  ${label}`);
      if (!ok) broken.set(command, failures(output) || `exit ${code}, ${pass} passed`);
    }
  }

  const rows: Row[] = [];
  for (const m of chosen) {
    const t = performance.now();
    const runs = runsOf.get(m) ?? [];
    const tests = runs.map((r) => r.label).join("; ");
    const unsound = runs.find((r) => broken.has(r.command));
    const { result, detail } = unsound
      ? { result: "baseline failed" as const, detail: `${unsound.label}: ${broken.get(unsound.command)}` }
      : await tryMutant(m, runs);
    const row = { name: m.name, tests, result, seconds: elapsed(t), detail };
    rows.push(row);
    console.log(
      `${row.result.padEnd(12)} ${String(row.seconds).padStart(4)} s  ${m.name}${detail ? `\n    ${detail}` : ""}`,
    );
    if (stopping) break;
  }

  const widths = [
    Math.max(8, ...rows.map((r) => r.name.length)),
    Math.max(7, ...rows.map((r) => r.tests.length)),
    Math.max(6, ...rows.map((r) => r.result.length)),
  ] as const;
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i as 0 | 1 | 2]) : c.padStart(7))).join("  ");
  console.log(`\n${line(["mutation", "test(s)", "result", "seconds"])}`);
  for (const r of rows) console.log(line([r.name, r.tests, r.result, String(r.seconds)]));
  const bad = rows.filter((r) => r.result !== "killed");
  console.log(
    `\n${rows.length - bad.length} of ${chosen.length} killed, ${bad.length} not; ${elapsed(started)} s in all` +
      (opts["no-baseline"] ? " (no baseline)" : " (baseline included)"),
  );
  return bad.length === 0 && rows.length === chosen.length ? 0 : 1;
}

let code = 1;
try {
  code = await runAll();
} finally {
  cleanUp(stopping ? 130 : code);
}
