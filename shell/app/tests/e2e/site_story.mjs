// The site as a visitor meets it, in Debian's Chromium driven by playwright-core: the home
// page and a note's page at 1280 and 390 px (a screenshot each, and the layout checked:
// no sideways scrolling, header above main above footer, the title and navigation on
// screen), their accessibility checked with axe-core (WCAG 2 A and AA rules), a search from
// the search box, and a card clicked through to its note's page.
//
// node site_story.mjs <npm folder> <base url> <screenshot folder> <note title> <note path>
// Prints one JSON object on stdout: { problems: [...], screenshots: [...] }.
import { createRequire } from "node:module";
import path from "node:path";

const [npmDir, base, shots, title, notePath] = process.argv.slice(2);
const require = createRequire(path.join(npmDir, "package.json"));
const { chromium } = require("playwright-core");
const axeSource = require("fs").readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const problems = [];
const screenshots = [];
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu"],
});
try {
  const page = await browser.newPage();
  for (const width of [1280, 390]) {
    await page.setViewportSize({ width, height: 900 });
    for (const [name, address] of [["index", "index.html"], ["note", notePath]]) {
      await page.goto(base + address, { waitUntil: "load" });
      const file = path.join(shots, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      screenshots.push(file);
      const layout = await page.evaluate(() => {
        const box = (selector) => {
          const element = document.querySelector(selector);
          if (!element) return null;
          const r = element.getBoundingClientRect();
          return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width, height: r.height };
        };
        const hidden = [...document.querySelectorAll(".site-nav a")]
          .filter((a) => { const r = a.getBoundingClientRect(); return r.width === 0 || r.height === 0 || r.right > window.innerWidth + 1; })
          .map((a) => a.textContent);
        return {
          scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth,
          header: box("header.site-header"),
          main: box("main"),
          footer: box("footer.site-footer"),
          h1: box("main h1"),
          hidden,
        };
      });
      const at = `${name} at ${width}px`;
      if (layout.scrollWidth > layout.innerWidth) problems.push(`${at}: scrolls sideways (${layout.scrollWidth} > ${layout.innerWidth})`);
      for (const part of ["header", "main", "footer", "h1"]) if (!layout[part]) problems.push(`${at}: no ${part}`);
      if (layout.header && layout.main && layout.header.bottom > layout.main.top + 1) problems.push(`${at}: the header overlaps main`);
      if (layout.main && layout.footer && layout.main.bottom > layout.footer.top + 1) problems.push(`${at}: main overlaps the footer`);
      if (layout.h1 && (layout.h1.left < 0 || layout.h1.right > layout.innerWidth + 1 || layout.h1.height === 0)) problems.push(`${at}: the title is off screen`);
      if (layout.hidden.length) problems.push(`${at}: navigation links off screen: ${layout.hidden.join(", ")}`);
      if (width === 1280) {
        await page.addScriptTag({ content: axeSource });
        const result = await page.evaluate(() => window.axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa"] } }));
        for (const v of result.violations) problems.push(`${at}: axe ${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")}`);
      }
    }
  }

  // Search: type a word of the note, follow the first result.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(base + "search/index.html", { waitUntil: "load" });
  await page.fill("#search-query", "sourdough");
  const result = page.locator("#search-results li a").first();
  await result.waitFor({ timeout: 30000 });
  const found = await result.textContent();
  if (found !== title) problems.push(`search: the first result is ${JSON.stringify(found)}, not ${JSON.stringify(title)}`);
  await result.click();
  await page.waitForLoadState("load");
  if (!page.url().endsWith(notePath)) problems.push(`search: the result led to ${page.url()}`);

  // A card on the home page leads to its note's page.
  await page.goto(base + "index.html", { waitUntil: "load" });
  await page.locator(".card h3 a", { hasText: title }).first().click();
  await page.waitForLoadState("load");
  if (!page.url().endsWith(notePath)) problems.push(`card: it led to ${page.url()}`);
  const heading = await page.locator("main h1").textContent();
  if (heading !== title) problems.push(`card: the page's title is ${JSON.stringify(heading)}`);
} finally {
  await browser.close();
}
console.log(JSON.stringify({ problems, screenshots }));
