import { closeSync, openSync, readSync } from "node:fs";
import type { ChangeStamp } from "../store.js";

// The wal-index header (https://www.sqlite.org/walformat.html, "The WAL-Index Header"): 48 bytes,
// kept twice at the start of the `-shm` file. Every commit rewrites it (iChange, mxFrame, the last
// frame's checksum, and the salts when the WAL restarts), and it is what SQLite's own readers compare
// to learn of new commits. The writer fills the second copy, then the first.
const HEADER = 48;
const IS_INIT = 12;
const MX_FRAME = 16;
// aSalt: bytes 32..39 of the header (struct WalIndexHdr in wal.c), copied byte for byte from bytes
// 16..23 of the `-wal` file's header (https://www.sqlite.org/fileformat2.html#walformat).
const SALTS = 32;
const WAL_SALTS = 16;
// A few tries, each one commit: a check can meet another process's commit or a checkpoint midway.
const CHECKS = 3;

export interface WalStampOptions {
  /** Commits something that changes nothing, through the caller's connection. */
  readonly commit: () => void;
  /** Told, once and with nothing secret, why the stamp never answers. */
  readonly log?: (reason: string) => void;
}

/**
 * The change stamp of a SQLite database in WAL mode, read from its `-shm` file: one `pread` of 96
 * bytes, no lock and no transaction (a read transaction costs two `fcntl` calls and an `fstat`,
 * and `PRAGMA data_version` needs one too). The file exists while any connection is open, and the
 * caller holds one. The two copies differing means a commit is being written: no answer then.
 *
 * A stray `-shm` (beside a symlink SQLite followed, say) never changes, and answering from it would
 * hide every commit. So there is no answer until the file read here is seen to be SQLite's: a commit
 * of ours changes it, and its salts are those of the `-wal` file beside it.
 */
export function walStamp(databasePath: string, { commit, log }: WalStampOptions): ChangeStamp {
  const read = Buffer.alloc(2 * HEADER);
  const seen = Buffer.alloc(HEADER);
  const walHeader = Buffer.alloc(WAL_SALTS + 8);
  // Both stay open until close(): closing any descriptor of a file drops every POSIX lock this
  // process holds on it, SQLite's own included.
  let shm: number | undefined;
  let wal: number | undefined;
  let checksLeft = CHECKS;
  let checked = false;
  let generation = 0;

  // The header, when both copies agree.
  function header(): boolean {
    try {
      shm ??= openSync(`${databasePath}-shm`, "r");
      if (readSync(shm, read, 0, 2 * HEADER, 0) !== 2 * HEADER || read[IS_INIT] !== 1) return false;
      return read.compare(read, HEADER, 2 * HEADER, 0, HEADER) === 0;
    } catch {
      return false;
    }
  }

  function walSaltsRead(): boolean {
    try {
      wal ??= openSync(`${databasePath}-wal`, "r");
      return readSync(wal, walHeader, 0, walHeader.length, 0) === walHeader.length;
    } catch {
      return false;
    }
  }

  /** Why the `-shm` read here cannot be told to be SQLite's, or undefined when it is. */
  function check(): string | undefined {
    if (!header()) return "no wal-index header in the -shm file";
    const before = Buffer.from(read.subarray(0, HEADER));
    try {
      commit();
    } catch (err) {
      return `a commit failed (${(err as { code?: string }).code ?? "error"})`;
    }
    if (!header()) return "the -shm file was being written";
    if (read.compare(before, 0, HEADER, 0, HEADER) === 0) return "the -shm file did not change on a commit";
    if (read.readUInt32LE(MX_FRAME) === 0) return "the WAL was restarted meanwhile";
    const after = Buffer.from(read.subarray(0, HEADER));
    if (!walSaltsRead()) return "the -wal file has no header";
    // A checkpoint may have restarted the WAL while it was read: then the -shm changed too.
    if (!header() || read.compare(after, 0, HEADER, 0, HEADER) !== 0) return "the -shm file was being written";
    if (read.compare(walHeader, WAL_SALTS, WAL_SALTS + 8, SALTS, SALTS + 8) !== 0) {
      return "the salts of the -shm and -wal files differ";
    }
    return undefined;
  }

  return {
    current() {
      if (!checked) {
        if (checksLeft === 0) return undefined;
        checksLeft -= 1;
        const reason = check();
        if (reason !== undefined) {
          if (checksLeft === 0) log?.(reason);
          return undefined;
        }
        checked = true;
      }
      if (!header()) return undefined;
      if (generation === 0 || read.compare(seen, 0, HEADER, 0, HEADER) !== 0) {
        read.copy(seen, 0, 0, HEADER);
        generation += 1;
      }
      return generation;
    },
    /** After the database is closed (see above). */
    close() {
      checked = false;
      checksLeft = 0;
      for (const fd of [shm, wal]) if (fd !== undefined) closeSync(fd);
      shm = wal = undefined;
    },
  };
}
