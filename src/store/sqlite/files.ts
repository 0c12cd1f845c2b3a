import { chmodSync, closeSync, constants, mkdirSync, openSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The file's path with every symlink resolved, as SQLite resolves it; also for a file yet to be
 * made, which SQLite makes where a symlink points. Its -wal and -shm files are beside that path.
 */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch (err) {
    // A cycle of links, a folder that cannot be read: SQLite tells when it opens the file.
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") return path;
  }
  try {
    return realPath(resolve(dirname(path), readlinkSync(path)));
  } catch {
    // Not a link: the file is yet to be made.
    return join(realPath(dirname(path)), basename(path));
  }
}

/**
 * Creates the store's folder and any missing parents readable by their owner only, whatever the
 * umask: the file holds webhook signing secrets. Folders that exist are left as they are.
 */
export function ownerOnlyFolders(folder: string): void {
  const first = mkdirSync(folder, { recursive: true, mode: 0o700 });
  if (first === undefined) return;
  for (let made = folder; made.length >= first.length; made = dirname(made)) chmodSync(made, 0o700);
}

/**
 * Creates the database file readable and writable by its owner only, whatever the umask (SQLite
 * gives its -wal and -shm files the database file's mode). A file that exists keeps its mode: an
 * operator may have shared it with a group on purpose.
 */
export function ownerOnlyFile(path: string): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o600);
  } catch {
    return; // it exists, or SQLite will say why it cannot be opened
  }
  try {
    chmodSync(path, 0o600);
  } finally {
    closeSync(fd);
  }
}
