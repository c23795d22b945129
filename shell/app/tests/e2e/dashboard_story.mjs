// The web dashboard as its owner uses it, in Debian's Chromium driven by playwright-core:
// a batch started from the CLI in another process shows up waiting for a worker, its
// progress bar moves once a worker starts and it reaches "completed" without a reload; a
// running batch is cancelled from the page; the start form runs `site_build` and the page
// follows it; HTML in a label and an error shows as text; every page at 1280 and 390 px.
//
// node dashboard_story.mjs <npm folder> <base url> <screenshot folder> <brain binary> <brain dir> <html job id>
// Prints one JSON object on stdout: { problems: [...], screenshots: [...], lagMs, generated, cancelled, built }.
import { createRequire } from "node:module";
import { spawn, execFileSync } from "node:child_process";
import path from "node:path";

const [npmDir, base, shots, brainBin, brainDir, htmlJob] = process.argv.slice(2);
const require = createRequire(path.join(npmDir, "package.json"));
const { chromium } = require("playwright-core");

const problems = [];
const screenshots = [];
const out = { problems, screenshots };
const LONG = { timeout: 120_000 };
const cli = (...args) => execFileSync(brainBin, ["--dir", brainDir, ...args], { encoding: "utf8" });
// "Queued batch batch_…: …": the third word.
const detachedId = (stdout) => stdout.trim().split(/\s+/)[2].replace(/:$/, "");
const op = (id) => `[data-testid=op][data-id="${id}"]`;

async function shoot(page, name) {
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    const file = path.join(shots, `${name}-${width}.png`);
    await page.screenshot({ path: file, fullPage: true });
    screenshots.push(file);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    if (wide > 1) problems.push(`${name} at ${width}px scrolls sideways by ${wide}px`);
  }
  await page.setViewportSize({ width: 1280, height: 900 });
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu"] });
let worker;
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("dialog", (dialog) => dialog.accept());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  await page.goto(base + "/", { waitUntil: "load" });
  await page.waitForFunction(() => document.body.dataset.live === "open", null, LONG);
  await page.evaluate(() => { window.__sameDocument = true; });

  // HTML in a label and an error is text, and nothing in it ran.
  const htmlRow = page.locator(`[data-testid=recent] ${op(htmlJob)}`);
  await htmlRow.waitFor(LONG);
  const htmlText = await htmlRow.innerText();
  if (!htmlText.includes("<img src=x onerror=")) problems.push(`the label is not shown as text: ${htmlText}`);
  if (await page.evaluate(() => window.__pwned !== undefined)) problems.push("markup from a label ran");

  // A batch from the CLI in another process: it waits for a worker, then moves.
  const generated = detachedId(cli("site", "generate", "--force", "--detach"));
  out.generated = generated;
  const card = page.locator(`[data-testid=active] ${op(generated)}`);
  await card.waitFor(LONG);
  await page.waitForFunction((sel) => /waiting for a worker/.test(document.querySelector(sel)?.textContent ?? ""), op(generated), LONG);
  // Every count the bar shows, as it shows it.
  await page.evaluate((sel) => {
    window.__counts = [];
    setInterval(() => {
      const bar = document.querySelector(`${sel} [data-testid=progress]`);
      const n = bar ? Number(bar.dataset.current) : null;
      if (n !== null && window.__counts.at(-1) !== n) window.__counts.push(n);
    }, 10);
  }, op(generated));
  worker = spawn(brainBin, ["--dir", brainDir, "start"], { stdio: "ignore" });
  // The overview while the batch runs (nothing waits on this shot: the batch may end during it).
  await page.waitForFunction((sel) => Number(document.querySelector(`${sel} [data-testid=progress]`)?.dataset.current) >= 2, op(generated), LONG);
  await shoot(page, "live");
  await page.waitForSelector(`${op(generated)}[data-status=completed]`, LONG);
  const shownAt = Date.now();
  const counts = await page.evaluate(() => window.__counts);
  out.counts = counts;
  const moved = counts.filter((n) => n > 0 && n < 5).length;
  if (moved < 1 || counts.at(-1) !== 5) problems.push(`the bar did not move through the batch: ${JSON.stringify(counts)}`);
  if (!(await page.evaluate(() => window.__sameDocument === true))) problems.push("the page reloaded");
  const record = await page.evaluate(async (id) => (await (await fetch(`/api/ops/${id}`)).json()), generated);
  out.lagMs = shownAt - Date.parse(record.op.finishedAt);
  await shoot(page, "overview");

  // Cancel a running batch from the page.
  const cancelled = detachedId(cli("site", "generate", "--force", "--detach"));
  out.cancelled = cancelled;
  await page.waitForFunction((sel) => Number(document.querySelector(`${sel} [data-testid=progress]`)?.dataset.current) >= 1, op(cancelled), LONG);
  await page.locator(`${op(cancelled)} [data-testid=cancel]`).click();
  await page.waitForSelector(`${op(cancelled)}[data-status=cancelled]`, LONG);

  // The batch's page: its items and their timeline.
  await page.goto(`${base}/ops/${generated}`, { waitUntil: "load" });
  await page.locator("[data-testid=item]").nth(4).waitFor(LONG);
  await page.locator("[data-testid=timeline]").waitFor(LONG);
  await shoot(page, "batch");

  // The start form runs site_build, and its page follows it to the end.
  await page.goto(`${base}/start`, { waitUntil: "load" });
  await page.locator("[data-testid=tool]").waitFor(LONG);
  await page.selectOption("[data-testid=tool]", "site_build");
  await page.locator("[data-testid=tool-form]").waitFor(LONG);
  await shoot(page, "start");
  await page.click("[data-testid=submit]");
  await page.waitForURL(/\/ops\/job_/, LONG);
  out.built = page.url().split("/ops/")[1];
  await page.waitForSelector(`[data-testid=op][data-status=completed]`, LONG);
  await shoot(page, "job");

  // The history, filtered to cancelled work.
  await page.goto(`${base}/ops?status=cancelled`, { waitUntil: "load" });
  await page.waitForSelector(op(cancelled), LONG);
  const others = await page.locator("[data-testid=op]:not([data-status=cancelled])").count();
  if (others) problems.push(`the cancelled filter shows ${others} other operations`);
  await shoot(page, "operations");

  await page.goto(`${base}/estimates`, { waitUntil: "load" });
  await page.getByText("site-builder:generate").first().waitFor(LONG);
  await shoot(page, "estimates");
} catch (error) {
  problems.push(String(error.stack ?? error));
} finally {
  if (worker) worker.kill("SIGINT");
  await browser.close();
}
console.log(JSON.stringify(out));
