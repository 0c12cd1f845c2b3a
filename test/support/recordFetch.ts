// Loaded with --import by the end-to-end runs: every answer a test fetches is searched for invite
// tokens (Location, JSON bodies), so that the log scan knows every token the suite was handed.
import { recordTokensIn } from "./handedOut.js";

if (process.env.TEST_LOG_DIR) {
  const original = globalThis.fetch;
  globalThis.fetch = async (input, init) => {
    const res = await original(input, init);
    recordTokensIn(res.headers.get("location") ?? "");
    recordTokensIn(res.headers.get("link") ?? "");
    if (/json/.test(res.headers.get("content-type") ?? "")) {
      recordTokensIn(
        await res
          .clone()
          .text()
          .catch(() => ""),
      );
    }
    return res;
  };
}
