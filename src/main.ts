#!/usr/bin/env node
// Entry point: reads argv, runs one command, owns the exit code. Only the CLI writes to the console.
import { CommanderError } from "commander";
import { addGlobalOptions } from "./cli/globalOptions.js";
import { buildProgram } from "./cli/program.js";
import { serve } from "./cli/serve.js";

const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  let exitCode = 0;
  const program = buildProgram({
    env: process.env,
    io: { out: (line) => console.log(line), note: (line) => console.error(line) },
    serve: () => serve(process.env),
    setExitCode: (code) => (exitCode = code),
  });
  addGlobalOptions(program, process.env);
  try {
    await program.parseAsync(argv);
    if (argv.length <= 2) {
      program.outputHelp({ error: true });
      return EXIT_USAGE;
    }
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    // ConfigError, KeyNotFoundError, a failing store: one clear line, no stack trace.
    console.error(`error: ${describe(err)}`);
    return 1;
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? ` (${err.cause.message})` : "";
  return `${err.message}${cause}`;
}

main(process.argv).then((code) => {
  process.exitCode = code;
  // A store client that never connected (a command past its deadline) may keep a socket or a
  // retry timer alive: the command is over, so the process is too.
  setTimeout(() => process.exit(code), 1_000).unref();
});
