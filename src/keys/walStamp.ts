import { closeSync, openSync, readSync } from "node:fs";

/**
 * Tells whether any connection, in any process, has committed to a database since it was last
 * asked: `current()` returns a number that changes on every commit, or undefined when that cannot
 * be told (then the caller must read the store).
 */
export interface ChangeStamp {
  current(): number | undefined;
  close(): void;
}

// The wal-index header (https://www.sqlite.org/walformat.html, "The WAL-Index Header"): 48 bytes,
// kept twice at the start of the `-shm` file. Every commit rewrites it (iChange, mxFrame, the last
// frame's checksum, and the salts when the WAL restarts), and it is what SQLite's own readers compare
// to learn of new commits. The writer fills the second copy, then the first.
const HEADER = 48;
const IS_INIT = 12;

/**
 * The change stamp of a SQLite database in WAL mode, read from its `-shm` file: one `pread` of 96
 * bytes, no lock and no transaction (a read transaction costs two `fcntl` calls and an `fstat`,
 * and `PRAGMA data_version` needs one too). The file exists while any connection is open, and the
 * caller holds one. The two copies differing means a commit is being written: no answer then.
 */
export function walStamp(databasePath: string): ChangeStamp {
  const read = Buffer.alloc(2 * HEADER);
  const seen = Buffer.alloc(HEADER);
  let fd: number | undefined;
  let generation = 0;

  function header(): boolean {
    try {
      fd ??= openSync(`${databasePath}-shm`, "r");
      return readSync(fd, read, 0, 2 * HEADER, 0) === 2 * HEADER;
    } catch {
      return false;
    }
  }

  return {
    current() {
      if (!header() || read[IS_INIT] !== 1) return undefined;
      if (read.compare(read, HEADER, 2 * HEADER, 0, HEADER) !== 0) return undefined;
      if (generation === 0 || read.compare(seen, 0, HEADER, 0, HEADER) !== 0) {
        read.copy(seen, 0, 0, HEADER);
        generation += 1;
      }
      return generation;
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
