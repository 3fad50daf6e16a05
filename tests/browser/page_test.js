// The caption service's web page in headless Chromium: load it, upload an image, and check that
// the caption appears, equal to the expected text, and that clicking a word draws its map.
//   node page_test.js URL IMAGE EXPECTED_CAPTION [SCREENSHOT.png]
// Exit status 0 when every check holds; the failure is printed otherwise.
'use strict';
const { chromium } = require('playwright-core');

async function main() {
  const [url, image, expected, screenshot] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    // No network beyond the test's own server: Chromium's background services stay off.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 820 } });
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(() => document.getElementById('model').textContent.startsWith('model: '));
    await page.setInputFiles('#file', image);
    await page.waitForFunction(() => document.getElementById('caption').textContent.length > 0, null, { timeout: 60000 });
    const caption = await page.textContent('#caption');
    if (caption !== expected) throw new Error(`caption "${caption}", expected "${expected}"`);
    const words = await page.$$('#words button');
    if (words.length !== expected.split(' ').length) throw new Error(`${words.length} word buttons for "${expected}"`);
    const pixels = () => page.evaluate(() => {
      const c = document.getElementById('view');
      return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).join(',');
    });
    const before = await pixels();
    await words[2].click();
    if ((await words[2].getAttribute('aria-pressed')) !== 'true') throw new Error('the clicked word is not selected');
    if ((await pixels()) === before) throw new Error('clicking a word drew no map over the image');
    if (errors.length) throw new Error('page errors: ' + errors.join('; '));
    if (screenshot) await page.screenshot({ path: screenshot });
    console.log(`page test passed: "${caption}"`);
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error('page test failed: ' + e.message);
  process.exit(1);
});
