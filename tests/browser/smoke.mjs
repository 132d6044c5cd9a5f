// The browser tooling alone, without sprov: starts chromium as the portal
// tests do, opens URL, checks it rendered, and writes a full-page PNG.
//   node tests/browser/smoke.mjs http://127.0.0.1:8000/ /tmp/smoke.png
// (any local server will do: python3 -m http.server -b 127.0.0.1 8000).
// Prints TAP; exit status 0 when every case passed.

import { launch, Tap, expect, eq, CHROMIUM } from './browser.mjs';
import { statSync, readFileSync } from 'node:fs';

const [url, out] = process.argv.slice(2);
if (!url || !out) {
	console.error('usage: node smoke.mjs URL OUT.png');
	process.exit(2);
}
const tap = new Tap();
let browser;
try {
	browser = await launch();
	tap.ok(true, `${CHROMIUM} ${browser.version()} starts headless`);
	const context = await browser.newContext();
	context.setDefaultTimeout(10000);
	const page = await context.newPage();
	await tap.check(`opens ${url}`, async () => {
		const resp = await page.goto(url);
		eq(resp.status(), 200, 'status');
		expect((await page.content()).length > 0, 'an empty page');
	});
	await tap.check('writes a full-page PNG', async () => {
		await page.screenshot({ path: out, fullPage: true });
		const png = readFileSync(out);
		expect(png.subarray(1, 4).toString() === 'PNG',
		    `${out} is not a PNG`);
		expect(statSync(out).size > 1000, `${out} is tiny`);
	});
	tap.comment(`screenshot: ${out}`);
	// The network stays local: a page naming another host gets nothing.
	await tap.check('another host is unreachable', async () => {
		let failed = false;
		try {
			const r = await page.goto('http://example.com/',
			    { timeout: 10000 });
			failed = r === null || r.status() >= 400;
		} catch {
			failed = true;
		}
		expect(failed, 'example.com answered');
	});
} catch (e) {
	tap.ok(false, 'the browser runs', String(e));
} finally {
	if (browser)
		await browser.close();
}
console.log(`1..${tap.n}`);
process.exit(tap.failed ? 1 : 0);
