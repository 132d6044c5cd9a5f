// What every browser test of sprov shares: Debian's chromium started
// headless through playwright-core (which downloads no browser), kept off
// every network but loopback, and a TAP writer that tests/run counts.

import { chromium } from 'playwright-core';

// SPROV_CHROMIUM overrides the browser (another build of chromium).
export const CHROMIUM = process.env.SPROV_CHROMIUM || '/usr/bin/chromium';

// Chromium talks to nothing but the servers under test on 127.0.0.1:
// no background services, and a proxy that is a closed loopback port for
// everything that is not loopback (Chromium never proxies loopback), so a
// page that names any other host fails instead of going out.
export const CHROMIUM_ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync',
	'--disable-domain-reliability',
	'--disable-breakpad',
	'--no-pings',
	'--proxy-server=http://127.0.0.1:9',
];

// launch(): one browser; playwright gives it a fresh, temporary
// user-data-dir of its own and removes it at close.
export async function launch()
{
	return chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: CHROMIUM_ARGS,
		timeout: 30000,
	});
}

// A TAP writer: "ok N - name" / "not ok N - name" with "#" diagnostics,
// numbered from `start` + 1 so a shell test can print cases before and
// after ours in one sequence.
export class Tap {
	constructor(start = 0)
	{
		this.n = start;
		this.failed = 0;
	}

	diag(text)
	{
		for (const line of String(text).split('\n'))
			console.log(`#   ${line}`);
	}

	comment(text)
	{
		console.log(`# ${text}`);
	}

	ok(pass, name, diag)
	{
		this.n++;
		if (pass) {
			console.log(`ok ${this.n} - ${name}`);
		} else {
			if (diag)
				this.diag(diag);
			console.log(`not ok ${this.n} - ${name}`);
			this.failed++;
		}
		return pass;
	}

	// check(name, fn): one case; passes when fn returns without throwing.
	// An exception (a failed expectation, a timeout, a crash of the page)
	// fails this case alone, with the error as diagnostic.
	async check(name, fn)
	{
		try {
			await fn();
			return this.ok(true, name);
		} catch (e) {
			return this.ok(false, name, errorText(e));
		}
	}

	skip(name, why)
	{
		this.n++;
		console.log(`ok ${this.n} - ${name} # SKIP ${why}`);
	}
}

export function errorText(e)
{
	if (e instanceof Error) {
		// Playwright's messages carry a call log; its first lines say
		// what was waited for.
		return e.message.split('\n').slice(0, 12).join('\n');
	}
	return String(e);
}

// A failed expectation: thrown by expect() and eq(), caught by check().
export function expect(cond, what)
{
	if (!cond)
		throw new Error(what);
}

export function eq(got, want, what)
{
	if (got !== want) {
		throw new Error(`${what}: got ${JSON.stringify(got)}, ` +
		    `wanted ${JSON.stringify(want)}`);
	}
}
