import type { KeyStore } from "../keys/keyStore.js";
import { importOriginalKeys } from "../keys/import/importKeys.js";
import type { Output } from "./keyCommands.js";

export async function importKeys(keys: KeyStore, io: Output, host: string, from: string): Promise<void> {
  const report = await importOriginalKeys(keys, host, from);
  for (const source of report.sources) io.out(`read ${source}`);
  for (const id of report.imported) io.out(`imported ${id}`);
  for (const id of report.unchanged) io.out(`already imported ${id}`);
  io.out(`${report.imported.length} imported, ${report.unchanged.length} already there`);
}
