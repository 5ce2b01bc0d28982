// Opens Sealcast's web player page in headless Chromium (playwright-core) and reports how
// playback went, as one JSON line:
//   node web_player.cjs PAGE_URL MAX_SECONDS MIN_PLAYED_SECONDS
// {"currentTime", "frames", "keys", "errors", "status", "keyMethods", "console"}
// Chromium comes from SEALCAST_TEST_CHROMIUM (default /usr/bin/chromium); playwright-core is
// found through NODE_PATH (scripts/test installs it under target/).
'use strict';
const { chromium } = require('playwright-core');

(async () => {
  const [url, maxSeconds, minPlayed] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.SEALCAST_TEST_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    const page = await browser.newPage();
    const consoleLines = [];
    const keyMethods = [];
    page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`pageerror: ${e.message}`));
    page.on('request', (r) => {
      if (new URL(r.url()).pathname.endsWith('/key')) keyMethods.push(r.method());
    });
    await page.goto(url);
    const deadline = Date.now() + Number(maxSeconds) * 1000;
    let result = {};
    while (Date.now() < deadline) {
      result = await page.evaluate(() => {
        const v = document.getElementById('video');
        const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : { totalVideoFrames: 0 };
        const p = window.sealcastPlayer || { keys: 0, errors: ['no player state'] };
        return { currentTime: v.currentTime, frames: q.totalVideoFrames, keys: p.keys, errors: p.errors,
          status: document.getElementById('status').textContent };
      });
      if (result.currentTime >= Number(minPlayed) || result.errors.length) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(JSON.stringify({ ...result, keyMethods, console: consoleLines.slice(-30) }));
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
