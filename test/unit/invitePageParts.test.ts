import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { redactUrl } from "../../src/http/accessLog.js";
import { appsSchema } from "../../src/invitePage/apps.js";
import { html, trusted } from "../../src/invitePage/html.js";
import { cachedKnownHosts } from "../../src/invitePage/knownHosts.js";
import { passwordProblem } from "../../src/invitePage/password.js";
import { detectPlatform } from "../../src/invitePage/platform.js";
import { estimateStrength } from "../../web/invite/strength.js";

describe("the invite page's parts", () => {
  it("detects the platform from the User-Agent", () => {
    const cases = {
      android:
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
      ios: "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0 Mobile/15E148 Safari/604.1",
      linux: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
      windows: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
      macos:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
      web: "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36",
    };
    for (const [platform, ua] of Object.entries(cases)) assert.equal(detectPlatform(ua), platform, ua);
    assert.equal(detectPlatform(undefined), "web");
  });

  it("escapes every interpolated value but markup of its own", () => {
    const name = `<script>alert('x')</script>&"`;
    assert.equal(
      html`<p title="${name}">${name}</p>`.value,
      '<p title="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;">&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;</p>',
    );
    const list = html`<ul>
      ${["<a>", html`<li>b</li>`, undefined, false]}
    </ul>`;
    assert.equal(list.value.replace(/\s+/g, ""), "<ul>&lt;a&gt;<li>b</li></ul>");
    assert.equal(html`${trusted("<svg></svg>")}`.value, "<svg></svg>");
  });

  it("reads the known hosts once per period, shares a read, and forgets a failed one", async () => {
    let reads = 0;
    let clock = 0;
    let fail = false;
    const known = cachedKnownHosts(
      async () => {
        reads += 1;
        if (fail) throw new Error("store down");
        return ["a.test"];
      },
      { ttlMs: 1_000, missMs: 100, now: () => clock },
    );
    assert.deepEqual(await Promise.all([known("a.test"), known("b.test")]), [true, false]);
    assert.equal(reads, 1);
    clock = 1_000;
    fail = true;
    await assert.rejects(known("a.test"));
    fail = false;
    assert.equal(await known("a.test"), true);
    assert.equal(reads, 3);
  });

  it("knows a host that just got its first key within missMs, and reads at most once per missMs for unknown ones", async () => {
    let reads = 0;
    let clock = 0;
    const hosts = ["a.test"];
    const known = cachedKnownHosts(
      async () => {
        reads += 1;
        return [...hosts];
      },
      { ttlMs: 30_000, missMs: 1_000, now: () => clock },
    );
    assert.equal(await known("new.test"), false);
    hosts.push("new.test");
    // A flood of misses within missMs: no read.
    for (let i = 0; i < 50; i += 1) assert.equal(await known(`made-up-${i}.test`), false);
    assert.equal(reads, 1);
    clock = 1_000;
    assert.equal(await known("new.test"), true, "known a second later, not after the ttl");
    assert.equal(reads, 2);
    assert.equal(await known("new.test"), true);
    assert.equal(reads, 2);
  });

  it("checks a new password: length in characters and bytes, the name in any case, the repeat", () => {
    assert.equal(passwordProblem("seven77", "seven77", "bob"), "too_short");
    assert.equal(passwordProblem("ééééééé", "ééééééé", "bob"), "too_short");
    assert.equal(passwordProblem("€".repeat(342), "€".repeat(342), "bob"), "too_long");
    assert.equal(passwordProblem("€".repeat(341), "€".repeat(341), "bob"), undefined);
    assert.equal(passwordProblem("theBoBpassword", "theBoBpassword", "bob"), "contains_name");
    assert.equal(passwordProblem("long enough", "long enougH", "bob"), "mismatch");
    assert.equal(passwordProblem("long enough", "long enough", undefined), undefined);
  });

  it("estimates a password's strength from its length and kinds of characters", () => {
    assert.equal(estimateStrength("password"), "weak");
    assert.equal(estimateStrength("aaaaaaaaaaaaaaaaaaaa"), "weak");
    assert.equal(estimateStrength("Tr0ub4dor&3"), "fair");
    assert.equal(estimateStrength("correct horse battery staple"), "strong");
  });

  it("refuses an apps file with a link that is not https or a description missing a language", () => {
    const app = {
      name: "X",
      platforms: ["android"],
      takesInvite: true,
      links: [{ store: "fdroid", url: "https://f-droid.org/" }],
      description: { en: "e", de: "d", fr: "f", es: "s", it: "i" },
    };
    assert.ok(appsSchema.safeParse({ apps: [app] }).success);
    assert.ok(
      !appsSchema.safeParse({ apps: [{ ...app, links: [{ store: "fdroid", url: "http://f-droid.org/" }] }] }).success,
    );
    assert.ok(!appsSchema.safeParse({ apps: [{ ...app, description: { en: "e" } }] }).success);
    assert.ok(!appsSchema.safeParse({ apps: [{ ...app, platforms: ["symbian"] }] }).success);
  });

  it("logs an invite page's address without its token", () => {
    assert.equal(
      redactUrl("/invite/example.com/-AbC_123?lang=de&platform=ios"),
      "/invite/example.com/[token]?lang=de&platform=ios",
    );
    assert.equal(
      redactUrl("/invite/example.com/AbC/name?username=bob"),
      "/invite/example.com/[token]/name?username=[redacted]",
    );
    assert.equal(redactUrl("/invite/example.com%2FAbC"), "/invite/[redacted]");
    assert.equal(redactUrl("/invite/assets/invite-ABC123.js"), "/invite/assets/invite-ABC123.js");
    assert.equal(redactUrl("/invite/assets/AbC"), "/invite/assets/[token]");
  });
});
