// The web portal of `sprov-ca serve` in a real browser (Debian's chromium,
// headless, driven by playwright-core), as a provider's operator uses it:
// log in, check and sign CSRs, download and revoke certificates, log out;
// and what protects them: the headers, the cookie, CSRF tokens, the
// organisation boundary, login throttling.  Then the queue mode, with the
// CA operator approving and rejecting from the command line.  The spec is
// the portal's contract: its routes, element ids, headers and cookie.
// Certificates are checked with the openssl CLI, not on the portal's word.
//
// Started by tests/integration/portal.sh, which makes the CAs, accounts and
// the two servers and passes everything in the environment (see env()
// below).  Prints TAP numbered from SPROV_TAP_START + 1, writes a full-page
// PNG of each page visited to SPROV_SCREENSHOTS, and exits non-zero when a
// case failed.

import { launch, Tap, expect, eq, errorText } from './browser.mjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';

function env(name, fallback)
{
	const v = process.env[name] ?? fallback;
	if (v === undefined) {
		console.error(`portal.mjs: ${name} is not set ` +
		    '(run tests/integration/portal.sh)');
		process.exit(2);
	}
	return v;
}

const SPROV_CA = env('SPROV_CA');		// the sprov-ca binary
const PORTAL = env('SPROV_PORTAL');		// https://127.0.0.1:PORT
const QUEUE = env('SPROV_QUEUE', '');		// the queue-mode portal
const CA_DIR = env('SPROV_CA_DIR');
const QCA_DIR = env('SPROV_QCA_DIR', '');
const WORK = env('SPROV_WORK');			// CSRs, keys, downloads
const SHOTS = env('SPROV_SCREENSHOTS');
const PASS = env('SPROV_PASSPHRASE');		// every user's password
const ORG1 = env('SPROV_ORG1');
const DOMAIN1 = env('SPROV_DOMAIN1');
const USER1 = env('SPROV_USER1');
const THR_USER = env('SPROV_THROTTLE_USER');	// locked out on purpose
const ORG2 = env('SPROV_ORG2');
const DOMAIN2 = env('SPROV_DOMAIN2');
const USER2 = env('SPROV_USER2');
const QORG = env('SPROV_QORG', '');
const QDOMAIN = env('SPROV_QDOMAIN', '');
const QUSER = env('SPROV_QUSER', '');
const DAYS = Number(env('SPROV_DAYS'));		// portal.conf days
const DAYS_MAX = Number(env('SPROV_DAYS_MAX'));	// portal.conf days_max
const QDAYS = Number(env('SPROV_QDAYS', '397'));
const QDAYS_MAX = Number(env('SPROV_QDAYS_MAX', '825'));

const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
const COOKIE = '__Host-sprov';
// Before login: a nonce whose HMAC is the login form's CSRF token.
const PRE_COOKIE = '__Host-sprov-pre';
const CSRF_MSG = 'CSRF token missing or wrong';
const TIMEOUT = 10000;		// any wait of playwright
const READ = 3000;		// an element the page should already hold
const DEADLINE = 420000;	// the whole file

const tap = new Tap(Number(env('SPROV_TAP_START', '0')));
mkdirSync(WORK, { recursive: true });
mkdirSync(SHOTS, { recursive: true });

// ---- openssl and sprov-ca --------------------------------------------

function run(cmd, args)
{
	try {
		return execFileSync(cmd, args, { cwd: WORK, encoding: 'utf8',
		    stdio: ['ignore', 'pipe', 'pipe'] });
	} catch (e) {
		throw new Error(`${cmd} ${args.join(' ')}: exit ` +
		    `${e.status}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
	}
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];

// A CSR made by `openssl req`, as a provider makes one: files NAME.key
// and NAME.csr (PEM) and NAME.der in WORK.
function makeCsr(name, cn, keyopts = EC)
{
	const key = `${WORK}/${name}.key`;
	const csr = `${WORK}/${name}.csr`;
	const der = `${WORK}/${name}.der`;
	run('openssl', ['req', '-new', '-nodes', ...keyopts, '-keyout', key,
	    '-out', csr, '-subj', `/CN=${cn}`]);
	run('openssl', ['req', '-in', csr, '-outform', 'DER', '-out', der]);
	return { name, cn, key, csr, der, pem: readFileSync(csr, 'utf8') };
}

const PEM_CERT =
    /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function pemCerts(text)
{
	return text.match(PEM_CERT) ?? [];
}

// What openssl says of the certificate file `path` (the first PEM
// certificate in it): subject, serial, dates, public key.
function x509(path)
{
	const out = run('openssl', ['x509', '-in', path, '-noout', '-serial',
	    '-subject', '-startdate', '-enddate', '-dateopt', 'iso_8601',
	    '-nameopt', 'RFC2253']);
	const f = {};
	for (const line of out.split('\n')) {
		const i = line.indexOf('=');
		if (i > 0)
			f[line.slice(0, i)] = line.slice(i + 1).trim();
	}
	const notBefore = Date.parse(f.notBefore.replace(' ', 'T'));
	const notAfter = Date.parse(f.notAfter.replace(' ', 'T'));
	return {
		serial: normSerial(f.serial),
		subject: f.subject,
		notBefore, notAfter,
		days: (notAfter - notBefore) / 86400000,
		expires: f.notAfter.slice(0, 10),
		pubkey: run('openssl', ['x509', '-in', path, '-noout',
		    '-pubkey']),
	};
}

function fingerprint(path)
{
	return run('openssl', ['x509', '-in', path, '-noout', '-fingerprint',
	    '-sha256']).trim();
}

// Serials as hex digits only, upper case, no leading zeros: "0F:65 a4"
// and "F65A4" are the same serial.
function normSerial(s)
{
	return String(s).replace(/[^0-9a-fA-F]/g, '').toUpperCase()
	    .replace(/^0+(?=.)/, '');
}

// Checks a downloaded certificate file the way a provider would before
// installing it: openssl verifies the certificate against the CA's server
// CA; it is for the CSR's key, lasts `days` (unless null), and the chain is
// the CA root.
function checkDownload(file, csr, caDir, days)
{
	const text = readFileSync(file, 'utf8');
	const certs = pemCerts(text);
	eq(certs.length, 2, `certificates in ${file} (certificate, chain)`);
	const leaf = `${file}.leaf.pem`;
	const chain = `${file}.chain.pem`;
	writeFileSync(leaf, certs[0] + '\n');
	writeFileSync(chain, certs[1] + '\n');
	const ca = `${caDir}/server-ca.crt`;
	const v = run('openssl', ['verify', '-CAfile', ca, leaf]);
	expect(/: OK\s*$/.test(v), `openssl verify: ${v}`);
	eq(fingerprint(chain), fingerprint(ca),
	    'the second certificate is the server CA');
	const c = x509(leaf);
	eq(c.pubkey, run('openssl', ['pkey', '-in', csr.key, '-pubout']),
	    'public key of the certificate vs the CSR key');
	expect(c.subject.includes(`CN=${csr.cn}`),
	    `subject ${c.subject} lacks CN=${csr.cn}`);
	expect(days === null || Math.abs(c.days - days) <= 1,
	    `valid ${c.days.toFixed(2)} days, wanted ${days} (+/- 1)`);
	return c;
}

function sprovCa(dir, ...args)
{
	return run(SPROV_CA, ['-d', dir, ...args]);
}

// ---- the browser -------------------------------------------------------

let shotN = 0;

// A full-page PNG of what the user sees now: SHOTS/NN-name.png.
async function shot(page, name)
{
	const file = `${SHOTS}/${String(++shotN).padStart(2, '0')}-${name}.png`;
	await page.screenshot({ path: file, fullPage: true });
}

// What every context watches, checked at the end: requests that leave the
// portal, CSP violations, script errors, and each HTML page's headers and
// body against the contract's rules for every HTML response.
const seen = { offsite: [], csp: [], pageErrors: [], htmlPages: 0,
    headerFaults: [], inline: [], pending: [] };
const ORIGINS = new Set([PORTAL, QUEUE].filter(Boolean)
    .map((u) => new URL(u).origin));

function watch(context)
{
	context.setDefaultTimeout(TIMEOUT);
	context.setDefaultNavigationTimeout(TIMEOUT);
	context.on('request', (r) => {
		const u = new URL(r.url());
		if (!['data:', 'blob:', 'about:'].includes(u.protocol) &&
		    !ORIGINS.has(u.origin))
			seen.offsite.push(r.url());
	});
	context.on('response', (r) => {
		if (r.request().resourceType() !== 'document')
			return;
		seen.pending.push(inspectHtml(r).catch(() => {}));
	});
	context.on('page', (p) => {
		p.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text()))
				seen.csp.push(`${p.url()}: ${m.text()}`);
		});
		p.on('pageerror', (e) => seen.pageErrors.push(
		    `${p.url()}: ${e.message}`));
	});
	return context;
}

async function inspectHtml(r)
{
	const h = await r.allHeaders();
	if (!/^text\/html/i.test(h['content-type'] ?? ''))
		return;
	seen.htmlPages++;
	const where = `${r.request().method()} ${new URL(r.url()).pathname} ` +
	    `(${r.status()})`;
	const want = {
		'content-security-policy': CSP,
		'x-frame-options': 'DENY',
		'x-content-type-options': 'nosniff',
		'referrer-policy': 'same-origin',
		'cache-control': 'no-store',
	};
	for (const [k, v] of Object.entries(want)) {
		if (h[k] !== v) {
			seen.headerFaults.push(`${where}: ${k}: ` +
			    `${JSON.stringify(h[k])}`);
		}
	}
	const body = await r.text();
	// A <script> element at all (the portal needs none; an external one
	// would be refused by the CSP anyway), a <style> element, a style=
	// attribute.
	for (const re of [/<script\b/i, /<style\b/i, /\sstyle\s*=/i]) {
		const m = body.match(re);
		if (m)
			seen.inline.push(`${where}: ${m[0].trim()}`);
	}
}

async function newContext(browser)
{
	return watch(await browser.newContext({ ignoreHTTPSErrors: true,
	    acceptDownloads: true }));
}

// Runs `action` (a click that submits or follows a link) and returns the
// response of the navigation it caused (the last one, after redirects).
async function nav(page, action)
{
	const [resp] = await Promise.all([
		page.waitForNavigation({ waitUntil: 'load' }),
		action(),
	]);
	expect(resp, 'no response to the navigation');
	return resp;
}

// The response of the first request of a redirect chain (the POST).
async function firstResponse(resp)
{
	let req = resp.request();
	while (req.redirectedFrom())
		req = req.redirectedFrom();
	return req.response();
}

function path(page)
{
	return new URL(page.url()).pathname;
}

async function text(page, sel)
{
	const t = await page.locator(sel).textContent({ timeout: READ });
	return (t ?? '').replace(/\s+/g, ' ').trim();
}

async function count(page, sel)
{
	return page.locator(sel).count();
}

async function csrfOf(page, form)
{
	return page.locator(`${form} input[name=csrf]`)
	    .inputValue({ timeout: READ });
}

async function cookieOf(context, name = COOKIE)
{
	const c = (await context.cookies()).find((x) => x.name === name);
	return c;
}

// The reason the portal gave, for messages of a failed expectation.
async function reasonOf(page)
{
	for (const sel of ['#reason', '#error']) {
		if (await count(page, sel))
			return `${sel}: ${await text(page, sel)}`;
	}
	let t = '';
	if (await count(page, 'main'))
		t = (await page.locator('main').innerText({ timeout: READ }))
		    .replace(/\s+/g, ' ').trim().slice(0, 200);
	return `${path(page)}: "${t}"`;
}

// The navigation `resp` (of a form submitted in `page`) has status
// `want`; if not, says what the page said and, for a POST, which Origin
// the browser sent (Chromium sends "null" under Referrer-Policy:
// no-referrer, which is why the portal says same-origin).
async function wantStatus(resp, want, page)
{
	const got = resp.status();
	if (got === want)
		return;
	const req = (await firstResponse(resp)).request();
	let sent = '';
	if (req.method() === 'POST') {
		const o = (await req.allHeaders()).origin;
		sent = `; the browser sent Origin: ${o ?? '(none)'}`;
	}
	throw new Error(`status ${got}, wanted ${want}: ` +
	    `${await reasonOf(page)}${sent}`);
}

async function login(page, base, user, password)
{
	await page.goto(`${base}/login`);
	await page.fill('#user', user);
	await page.fill('#password', password);
	return nav(page, () => page.click('#login-submit'));
}

async function loggedIn(browser, base, user)
{
	const context = await newContext(browser);
	const page = await context.newPage();
	const resp = await login(page, base, user, PASS);
	if (path(page) !== '/certs')
		await wantStatus(resp, 200, page);
	eq(path(page), '/certs', `after logging in as ${user}`);
	return { context, page };
}

// /new: fills the form (PEM pasted, and/or a file) and presses `button`
// (#check or #sign); returns the response of the navigation.
async function submitCsr(page, base, { pem, file, days, button })
{
	await page.goto(`${base}/new`);
	if (pem !== undefined)
		await page.fill('#csr', pem);
	if (file !== undefined)
		await page.setInputFiles('#csrfile', file);
	if (days !== undefined)
		await page.selectOption('#days', String(days));
	return nav(page, () => page.click(button));
}

// Signs and returns the request's ID, taken from /cert/ID.
async function sign(page, base, opts)
{
	const resp = await submitCsr(page, base, { ...opts, button: '#sign' });
	const m = path(page).match(/^\/cert\/([^/]+)$/);
	if (!m)
		await wantStatus(resp, 200, page);
	expect(m, `signing ended on ${page.url()}`);
	eq((await firstResponse(resp)).status(), 303, 'status of POST /new');
	return decodeURIComponent(m[1]);
}

// The rows of /certs: [{id, cn, state, expires, view}].
async function listCerts(page, base)
{
	const resp = await page.goto(`${base}/certs`);
	eq(resp.status(), 200, 'status of /certs');
	return page.locator('#certs tr[data-id]').evaluateAll((trs) =>
	    trs.map((tr) => {
		const t = (s) => (tr.querySelector(s)?.textContent ?? '')
		    .replace(/\s+/g, ' ').trim();
		return {
			id: tr.getAttribute('data-id'),
			cn: t('td.cn'),
			state: t('td.state'),
			expires: t('td.expires'),
			view: tr.querySelector('a.view')?.getAttribute('href'),
		};
	    }));
}

// The /cert/ID page as the user reads it.
async function certPage(page, base, id)
{
	const resp = await page.goto(`${base}/cert/${encodeURIComponent(id)}`);
	eq(resp.status(), 200, `status of /cert/${id}`);
	return {
		id: await text(page, '#request-id'),
		state: await text(page, '#state'),
		cn: await text(page, '#cn'),
	};
}

async function download(page, name)
{
	const [dl] = await Promise.all([
		page.waitForEvent('download'),
		page.click('#download'),
	]);
	const file = `${WORK}/${name}`;
	await dl.saveAs(file);
	return { file, suggested: dl.suggestedFilename() };
}

// A form POST by the context's request API (its cookies are sent; the
// page's form is bypassed): what a forged cross-site request looks like
// once it gets past the browser.
async function post(context, url, fields, headers = {})
{
	return context.request.post(url, { multipart: fields, headers,
	    maxRedirects: 0, failOnStatusCode: false });
}

// ---- the cases -------------------------------------------------------------

const st = {};		// what a case found and a later one uses

function need(...keys)
{
	for (const k of keys) {
		if (st[k] === undefined)
			throw new Error(`no ${k}: an earlier case failed`);
	}
}

async function online(browser)
{
	const anon = await newContext(browser);
	const page = await anon.newPage();
	const c = tap.check.bind(tap);

	await c('GET / without a session: 303 to /login', async () => {
		const r = await anon.request.get(`${PORTAL}/`,
		    { maxRedirects: 0 });
		eq(r.status(), 303, 'status');
		eq(new URL(r.headers().location, PORTAL).pathname, '/login',
		    'Location');
	});
	let loginResp;
	await c('the login page renders: user, password, CSRF field, button',
	    async () => {
		loginResp = await page.goto(`${PORTAL}/login`);
		await shot(page, 'login');
		eq(loginResp.status(), 200, 'status');
		eq(await page.getAttribute('form#login', 'method',
		    { timeout: READ }).then((m) => m?.toLowerCase()), 'post',
		    'form#login method');
		eq(new URL(await page.getAttribute('form#login', 'action'),
		    page.url()).pathname, '/login', 'form#login action');
		eq(await page.getAttribute('input#user', 'name'), 'user',
		    '#user name');
		eq(await page.getAttribute('input#password', 'type'),
		    'password', '#password type');
		eq(await page.getAttribute('input#password', 'name'),
		    'password', '#password name');
		expect((await csrfOf(page, 'form#login')).length >= 16,
		    'the CSRF token is shorter than 16 characters');
		expect(await page.isVisible('button#login-submit'),
		    'no visible #login-submit');
	});
	await c('... with the exact Content-Security-Policy and the other ' +
	    'security headers', async () => {
		expect(loginResp, 'no response from /login');
		const h = await loginResp.allHeaders();
		eq(h['content-security-policy'], CSP,
		    'Content-Security-Policy');
		eq(h['x-frame-options'], 'DENY', 'X-Frame-Options');
		eq(h['x-content-type-options'], 'nosniff',
		    'X-Content-Type-Options');
		eq(h['referrer-policy'], 'same-origin', 'Referrer-Policy');
		eq(h['cache-control'], 'no-store', 'Cache-Control');
	});
	await c('... and its stylesheet, /static/portal.css, is text/css',
	    async () => {
		const href = await page.getAttribute('link[rel=stylesheet]',
		    'href', { timeout: READ });
		eq(new URL(href, page.url()).pathname, '/static/portal.css',
		    'stylesheet');
		const r = await anon.request.get(`${PORTAL}/static/portal.css`);
		eq(r.status(), 200, 'status');
		expect(/^text\/css/.test(r.headers()['content-type'] ?? ''),
		    `Content-Type ${r.headers()['content-type']}`);
	});
	let preLogin;
	await c(`the login cookie ${PRE_COOKIE}: Secure, HttpOnly, ` +
	    'SameSite=Strict, Path=/, no Domain', async () => {
		expect(loginResp, 'no response from /login');
		const raw = (await loginResp.allHeaders())['set-cookie'] ?? '';
		const line = raw.split('\n').find((l) =>
		    l.startsWith(`${PRE_COOKIE}=`));
		expect(line, `no Set-Cookie ${PRE_COOKIE} on /login: ${raw}`);
		const attrs = line.split(';').slice(1).map((a) => a.trim()
		    .toLowerCase());
		for (const a of ['secure', 'httponly', 'samesite=strict',
		    'path=/'])
			expect(attrs.includes(a), `${line} lacks ${a}`);
		expect(!attrs.some((a) => a.startsWith('domain')),
		    `${line} has a Domain`);
		preLogin = await cookieOf(anon, PRE_COOKIE);
		expect(preLogin, 'the browser did not keep the cookie');
		expect(preLogin.secure && preLogin.httpOnly &&
		    preLogin.sameSite === 'Strict',
		    `the browser holds ${JSON.stringify(preLogin)}`);
	});
	await c('an unknown path: 404', async () => {
		const r = await anon.request.get(`${PORTAL}/no/such/page`);
		eq(r.status(), 404, 'status');
	});
	await c('a wrong password: 401 and #error "wrong user or password"',
	    async () => {
		await page.goto(`${PORTAL}/login`);
		await page.fill('#user', USER1);
		await page.fill('#password', 'not the password');
		const r = await nav(page, () => page.click('#login-submit'));
		await shot(page, 'login-error');
		await wantStatus(r, 401, page);
		expect((await text(page, '#error'))
		    .includes('wrong user or password'),
		    `#error: ${await text(page, '#error')}`);
		eq(await count(page, '#whoami'), 0, '#whoami elements');
	});
	await c('an unknown user: the same 401 and message', async () => {
		await page.goto(`${PORTAL}/login`);
		await page.fill('#user', `nobody@${DOMAIN1}`);
		await page.fill('#password', PASS);
		const r = await nav(page, () => page.click('#login-submit'));
		await wantStatus(r, 401, page);
		expect((await text(page, '#error'))
		    .includes('wrong user or password'),
		    `#error: ${await text(page, '#error')}`);
	});
	await c(`the right password: 303 to /certs, #whoami "${USER1} ` +
	    `(${ORG1})"`, async () => {
		preLogin = await cookieOf(anon, PRE_COOKIE);
		const r = await login(page, PORTAL, USER1, PASS);
		if (path(page) !== '/certs')
			await wantStatus(r, 200, page);
		eq(path(page), '/certs', 'page after login');
		eq((await firstResponse(r)).status(), 303,
		    'status of POST /login');
		eq(await text(page, '#whoami'), `${USER1} (${ORG1})`,
		    '#whoami');
		eq(await text(page, 'h1'), `Certificates of ${ORG1}`, 'h1');
		expect(await count(page, '#empty') === 1,
		    'no p#empty on a list without certificates');
		st.user1 = { context: anon, page };
	});
	await c(`... the session cookie ${COOKIE} is new at login, the ` +
	    'login cookie cleared', async () => {
		need('user1');
		const now = await cookieOf(anon);
		expect(preLogin && now, 'no cookie before or after');
		expect(now.value !== preLogin.value,
		    'the session id is the login nonce');
		expect(!(await cookieOf(anon, PRE_COOKIE)),
		    `${PRE_COOKIE} still set after login`);
		expect(now.secure && now.httpOnly && now.sameSite === 'Strict',
		    `the new cookie is ${JSON.stringify(now)}`);
		st.preLogin = preLogin;
	});
	await c('... and the pre-login cookie value opens no session',
	    async () => {
		need('preLogin');
		const other = await newContext(browser);
		try {
			await other.addCookies([preLogin,
			    { ...preLogin, name: COOKIE }]);
			const r = await other.request.get(`${PORTAL}/certs`,
			    { maxRedirects: 0 });
			eq(r.status(), 303, 'status of /certs');
			eq(new URL(r.headers().location, PORTAL).pathname,
			    '/login', 'Location');
		} finally {
			await other.close();
		}
	});
	await c('GET / with a session: 303 to /certs', async () => {
		need('user1');
		const r = await anon.request.get(`${PORTAL}/`,
		    { maxRedirects: 0 });
		eq(r.status(), 303, 'status');
		eq(new URL(r.headers().location, PORTAL).pathname, '/certs',
		    'Location');
	});
	await c('the header links to /certs and /new and has a logout form',
	    async () => {
		need('user1');
		eq(new URL(await page.getAttribute('a#nav-certs', 'href',
		    { timeout: READ }), page.url()).pathname, '/certs',
		    'a#nav-certs');
		eq(new URL(await page.getAttribute('a#nav-new', 'href'),
		    page.url()).pathname, '/new', 'a#nav-new');
		eq(new URL(await page.getAttribute('form#logout', 'action'),
		    page.url()).pathname, '/logout', 'form#logout action');
		expect((await csrfOf(page, 'form#logout')).length >= 16,
		    'no CSRF token in form#logout');
	});

	await onlineSigning(browser, page);
	await otherOrganisation(browser);
	await csrf(page);
	await revoke(page);
	await logout(browser, page);
	await throttle(browser);
}

async function onlineSigning(browser, page)
{
	const c = tap.check.bind(tap);
	const weak = makeCsr('weak', `pv.${DOMAIN1}`, ['-newkey', 'rsa:1024']);
	const outside = makeCsr('outside', `www.${DOMAIN2}`);
	const good = makeCsr('good', `pv.${DOMAIN1}`);
	const second = makeCsr('second', `pv2.${DOMAIN1}`,
	    ['-newkey', 'rsa:2048']);
	st.good = good;

	await c('/new: the form, days offered up to days_max, days selected',
	    async () => {
		need('user1');
		await nav(page, () => page.click('a#nav-new'));
		await shot(page, 'new');
		eq(path(page), '/new', 'the nav link led to');
		eq(await page.getAttribute('form#csr-form', 'enctype',
		    { timeout: READ }), 'multipart/form-data', 'enctype');
		eq((await page.getAttribute('form#csr-form', 'method'))
		    ?.toLowerCase(), 'post', 'method');
		eq(await page.getAttribute('textarea#csr', 'name'), 'csr',
		    'textarea name');
		eq(await page.getAttribute('input#csrfile', 'type'), 'file',
		    '#csrfile type');
		eq(await page.getAttribute('input#csrfile', 'name'),
		    'csrfile', '#csrfile name');
		const opts = await page.locator('select#days option')
		    .evaluateAll((os) => os.map((o) => o.value));
		const want = [90, 180, 365, 397, 730, 825]
		    .filter((d) => d <= DAYS_MAX).map(String);
		eq(opts.join(','), want.join(','), 'days offered');
		eq(await page.inputValue('select#days'), String(DAYS),
		    'days selected');
		eq(await page.getAttribute('button#check', 'value'), 'check',
		    '#check value');
		eq(await page.getAttribute('button#sign', 'value'), 'sign',
		    '#sign value');
	});
	await c('check an RSA-1024 CSR: 400, #reason names 1024 bits, #fix ' +
	    'says what to do, the CSR is kept', async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, { pem: weak.pem,
		    button: '#check' });
		await shot(page, 'check-error');
		await wantStatus(r, 400, page);
		eq(await count(page, '#result.error'), 1, '#result.error');
		const reason = await text(page, '#reason');
		expect(reason.includes('1024'), `#reason: ${reason}`);
		expect((await text(page, '#fix')).length > 0, 'empty #fix');
		const kept = (await page.inputValue('#csr'))
		    .replace(/\r\n/g, '\n').trim();
		eq(kept, weak.pem.trim(), 'the textarea after the check');
	});
	await c(`check a CSR for www.${DOMAIN2}: 403, #reason names the FQDN ` +
	    `and ${ORG1}`, async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, { pem: outside.pem,
		    button: '#check' });
		await shot(page, 'check-forbidden');
		await wantStatus(r, 403, page);
		eq(await count(page, '#result.error'), 1, '#result.error');
		const reason = await text(page, '#reason');
		expect(reason.includes(`www.${DOMAIN2}`) &&
		    reason.includes(ORG1), `#reason: ${reason}`);
		expect((await text(page, '#fix')).length > 0, 'empty #fix');
	});
	await c('check text that is no CSR: 400 saying it is not a PEM CSR',
	    async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, {
		    pem: 'hello, here is my certificate\n', button: '#check' });
		await wantStatus(r, 400, page);
		const reason = await text(page, '#reason');
		expect(/PEM|CSR|certificate request/i.test(reason),
		    `#reason: ${reason}`);
		expect((await text(page, '#fix')).length > 0, 'empty #fix');
	});
	await c('check a good CSR: 200, #result.ok with the CN and the key',
	    async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, { pem: good.pem,
		    button: '#check' });
		await shot(page, 'check-ok');
		await wantStatus(r, 200, page);
		eq(await count(page, '#result.error'), 0, '#result.error');
		const res = await text(page, '#result.ok');
		expect(res.includes(good.cn), `#result: ${res}`);
		expect(/P-256|prime256v1|EC/.test(res),
		    `#result names no key: ${res}`);
	});
	await c('check a good CSR as a DER file: 200', async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, { file: good.der,
		    button: '#check' });
		await wantStatus(r, 200, page);
		expect((await text(page, '#result.ok')).includes(good.cn),
		    'no #result.ok with the CN');
	});
	await c('a file wins over the textarea', async () => {
		need('user1');
		const r = await submitCsr(page, PORTAL, { pem: weak.pem,
		    file: good.csr, button: '#check' });
		await wantStatus(r, 200, page);
	});
	await c('checking signed nothing', async () => {
		need('user1');
		eq((await listCerts(page, PORTAL)).length, 0, 'rows in /certs');
	});

	await c('sign a PEM file for 90 days: 303 to /cert/ID, state issued',
	    async () => {
		need('user1');
		const id = await sign(page, PORTAL, { file: good.csr,
		    days: 90 });
		await shot(page, 'cert-issued');
		const p = { id: await text(page, '#request-id'),
		    state: await text(page, '#state'),
		    cn: await text(page, '#cn') };
		eq(p.id, id, '#request-id');
		eq(p.state, 'issued', '#state');
		eq(p.cn, good.cn, '#cn');
		st.id1 = id;
	});
	await c('... the download: an attachment named CN.pem', async () => {
		need('id1');
		const d = await download(page, 'good.pem');
		eq(d.suggested, `${good.cn}.pem`, 'file name');
		const r = await page.context().request.get(
		    `${PORTAL}/cert/${st.id1}/download`);
		eq(r.status(), 200, 'status');
		const h = r.headers();
		eq(h['content-type'], 'application/x-pem-file',
		    'Content-Type');
		eq(h['content-disposition'],
		    `attachment; filename="${good.cn}.pem"`,
		    'Content-Disposition');
		eq((await r.text()), readFileSync(d.file, 'utf8'),
		    'the same body twice');
		st.file1 = d.file;
	});
	await c('... openssl verifies it against the server CA; the CSR\'s ' +
	    'key, 90 days, the chain in the file', async () => {
		need('file1');
		st.cert1 = checkDownload(st.file1, good, CA_DIR, 90);
	});
	await c('... the page shows its serial, expiry and PEM', async () => {
		need('cert1');
		eq(normSerial(await text(page, '#serial')), st.cert1.serial,
		    '#serial');
		const exp = await text(page, '#expires');
		expect(exp.includes(st.cert1.expires),
		    `#expires ${exp}, notAfter ${st.cert1.expires}`);
		const shown = pemCerts(await page.locator('pre#pem')
		    .textContent({ timeout: READ }));
		const file = pemCerts(readFileSync(st.file1, 'utf8'));
		eq(shown.join('\n'), file.join('\n'),
		    'pre#pem vs the download');
	});
	await c('sign a pasted PEM CSR (RSA 2048, default days): issued',
	    async () => {
		need('user1');
		const id = await sign(page, PORTAL, { pem: second.pem });
		eq(await text(page, '#state'), 'issued', '#state');
		const d = await download(page, 'second.pem');
		st.cert2 = checkDownload(d.file, second, CA_DIR, DAYS);
		st.id2 = id;
	});
	await c('/certs lists both, issued, with CN, expiry and link',
	    async () => {
		need('id1', 'id2', 'cert1', 'cert2');
		const rows = await listCerts(page, PORTAL);
		await shot(page, 'certs');
		for (const [id, csr, cert] of [[st.id1, good, st.cert1],
		    [st.id2, second, st.cert2]]) {
			const row = rows.find((x) => x.id === id);
			expect(row, `no row ${id} in ${JSON.stringify(rows)}`);
			eq(row.cn, csr.cn, `${id} CN`);
			eq(row.state, 'issued', `${id} state`);
			eq(row.expires, cert.expires, `${id} expires`);
			eq(new URL(row.view, page.url()).pathname,
			    `/cert/${id}`, `${id} link`);
		}
		eq(await count(page, '#empty'), 0, 'p#empty with rows');
	});
	await c(`a forged days above days_max (${DAYS_MAX}) gives no longer ` +
	    'certificate', async () => {
		need('user1');
		const forged = makeCsr('forged', `pv3.${DOMAIN1}`);
		await page.goto(`${PORTAL}/new`);
		const token = await csrfOf(page, 'form#csr-form');
		const r = await post(page.context(), `${PORTAL}/new`, {
		    csr: forged.pem, days: '3650', action: 'sign',
		    csrf: token }, { Origin: new URL(PORTAL).origin });
		if (r.status() === 303) {
			const loc = new URL(r.headers().location, PORTAL);
			const dl = await page.context().request.get(
			    `${loc.href}/download`);
			eq(dl.status(), 200, `status of ${loc.pathname}/download`);
			const f = `${WORK}/forged.pem`;
			writeFileSync(f, await dl.text());
			const cert = checkDownload(f, forged, CA_DIR, null);
			expect(cert.days <= DAYS_MAX + 1,
			    `valid ${cert.days.toFixed(2)} days`);
		} else {
			eq(r.status(), 400, `status (${(await r.text())
			    .slice(0, 200)})`);
		}
	});
}

async function otherOrganisation(browser)
{
	const c = tap.check.bind(tap);
	let other;
	await c(`${USER2} logs in; /certs of ${ORG2} lists none of ${ORG1}'s`,
	    async () => {
		need('id1', 'id2');
		other = await loggedIn(browser, PORTAL, USER2);
		st.user2 = other;
		const p = other.page;
		eq(await text(p, '#whoami'), `${USER2} (${ORG2})`, '#whoami');
		eq(await text(p, 'h1'), `Certificates of ${ORG2}`, 'h1');
		const own = makeCsr('other', `pv.${DOMAIN2}`);
		st.id3 = await sign(p, PORTAL, { pem: own.pem });
		const rows = await listCerts(p, PORTAL);
		await shot(p, 'other-certs');
		const ids = rows.map((x) => x.id);
		expect(ids.includes(st.id3), `its own ${st.id3} is not ` +
		    `listed: ${JSON.stringify(rows)}`);
		for (const id of [st.id1, st.id2])
			expect(!ids.includes(id), `${ORG1}'s ${id} is listed`);
		expect(!rows.some((x) => x.cn.endsWith(DOMAIN1)),
		    `a ${DOMAIN1} name is listed: ${JSON.stringify(rows)}`);
	});
	await c(`... GET /cert/ID of ${ORG1}'s certificate: 404 "no such ` +
	    'certificate"', async () => {
		need('user2', 'id1');
		const r = await other.page.goto(`${PORTAL}/cert/${st.id1}`);
		await shot(other.page, 'other-cert-404');
		eq(r.status(), 404, 'status');
		expect((await other.page.content()).includes(
		    'no such certificate'), 'no "no such certificate"');
		expect(!(await other.page.content()).includes(st.good.cn),
		    `the page names ${st.good.cn}`);
	});
	await c('... its download: 404', async () => {
		need('user2', 'id1');
		const r = await other.context.request.get(
		    `${PORTAL}/cert/${st.id1}/download`);
		eq(r.status(), 404, 'status');
		expect(!(await r.text()).includes('BEGIN CERTIFICATE'),
		    'a certificate in the body');
	});
	await c('... revoking it with a valid token of its own: refused, ' +
	    'still issued', async () => {
		need('user2', 'id1');
		const token = await csrfOf(other.page, 'form#logout');
		const r = await post(other.context,
		    `${PORTAL}/cert/${st.id1}/revoke`, { csrf: token,
		    reason: 'keyCompromise' },
		    { Origin: new URL(PORTAL).origin });
		expect([403, 404].includes(r.status()),
		    `status ${r.status()}`);
		const p = await certPage(st.user1.page, PORTAL, st.id1);
		eq(p.state, 'issued', `${ORG1}'s view of ${st.id1}`);
	});
	await c(`... a CSR for pv.${DOMAIN1}: 403`, async () => {
		need('user2');
		const r = await submitCsr(other.page, PORTAL,
		    { pem: st.good.pem, button: '#sign' });
		await wantStatus(r, 403, other.page);
		eq(path(other.page), '/new', 'page');
	});
	await c(`... and ${ORG1}'s list does not show ${ORG2}'s certificate`,
	    async () => {
		need('user1', 'id3');
		const rows = await listCerts(st.user1.page, PORTAL);
		expect(!rows.some((x) => x.id === st.id3),
		    `${st.id3} is listed`);
	});
	if (other)
		await other.context.close();
}

async function csrf(page)
{
	const c = tap.check.bind(tap);
	const origin = new URL(PORTAL).origin;
	const forged = makeCsr('csrf', `csrf.${DOMAIN1}`);
	const fields = (token) => {
		const f = { csr: forged.pem, days: '90', action: 'sign' };
		if (token !== undefined)
			f.csrf = token;
		return f;
	};
	let token;
	let before;	// rows of /certs before the forged requests
	const unchanged = async () => {
		expect(before !== undefined, 'no list to compare with');
		const rows = await listCerts(page, PORTAL);
		eq(rows.length, before, 'rows in /certs');
		expect(!rows.some((x) => x.cn === forged.cn),
		    `${forged.cn} was signed`);
	};
	const refused = async (r) => {
		eq(r.status(), 403, 'status');
		const body = await r.text();
		expect(body.includes(CSRF_MSG), `the body lacks "${CSRF_MSG}"`);
	};
	await c('CSRF: POST /new with the session but no csrf field: 403 ' +
	    `"${CSRF_MSG}", nothing signed`, async () => {
		need('user1');
		before = (await listCerts(page, PORTAL)).length;
		await page.goto(`${PORTAL}/new`);
		token = await csrfOf(page, 'form#csr-form');
		await refused(await post(page.context(), `${PORTAL}/new`,
		    fields(undefined), { Origin: origin }));
		await unchanged();
	});
	await c('CSRF: ... with a wrong token: 403, nothing signed',
	    async () => {
		need('user1');
		const wrong = token ? token.slice(0, -2) +
		    (token.endsWith('AA') ? 'BB' : 'AA') : 'wrong';
		await refused(await post(page.context(), `${PORTAL}/new`,
		    fields(wrong), { Origin: origin }));
		await refused(await post(page.context(), `${PORTAL}/new`,
		    fields(''), { Origin: origin }));
		await unchanged();
	});
	await c('CSRF: ... with the right token but Origin: ' +
	    'https://evil.example: 403, nothing signed', async () => {
		need('user1');
		expect(token, 'no token');
		const r = await post(page.context(), `${PORTAL}/new`,
		    fields(token), { Origin: 'https://evil.example' });
		eq(r.status(), 403, 'status');
		await unchanged();
	});
	await c('CSRF: POST /cert/ID/revoke without csrf: 403, still issued',
	    async () => {
		need('id2');
		await refused(await post(page.context(),
		    `${PORTAL}/cert/${st.id2}/revoke`,
		    { reason: 'keyCompromise' }, { Origin: origin }));
		eq((await certPage(page, PORTAL, st.id2)).state, 'issued',
		    'state');
	});
	await c('CSRF: POST /cert/ID/revoke, Origin: https://evil.example: ' +
	    '403, still issued', async () => {
		need('id2');
		await page.goto(`${PORTAL}/cert/${st.id2}`);
		const t = await csrfOf(page, 'form#revoke');
		const r = await post(page.context(),
		    `${PORTAL}/cert/${st.id2}/revoke`,
		    { reason: 'keyCompromise', csrf: t },
		    { Origin: 'https://evil.example' });
		eq(r.status(), 403, 'status');
		eq((await certPage(page, PORTAL, st.id2)).state, 'issued',
		    'state');
	});
	// Without this the refusals above could be a request API that sends
	// no cookie, or a form the server would refuse anyway.
	await c('CSRF: ... the same POST /new with the right token and ' +
	    'Origin signs (the refusals above were the token\'s)', async () => {
		need('user1');
		expect(token, 'no token');
		const r = await post(page.context(), `${PORTAL}/new`,
		    fields(token), { Origin: origin });
		eq(r.status(), 303, `status (${(await r.text())
		    .slice(0, 300)})`);
		const rows = await listCerts(page, PORTAL);
		expect(rows.some((x) => x.cn === forged.cn &&
		    x.state === 'issued'), `${forged.cn} is not listed`);
	});
}

async function revoke(page)
{
	const c = tap.check.bind(tap);
	await c('revoke: keyCompromise on /cert/ID, #revoke-submit: revoked',
	    async () => {
		need('id1');
		await page.goto(`${PORTAL}/cert/${st.id1}`);
		await page.selectOption('select#reason', 'keyCompromise');
		const r = await nav(page, () => page.click('#revoke-submit'));
		await shot(page, 'cert-revoked');
		eq((await firstResponse(r)).status(), 303,
		    'status of the POST');
		eq(path(page), `/cert/${st.id1}`, 'page after revoking');
		eq(await text(page, '#state'), 'revoked', '#state');
		st.revoked = true;
	});
	await c('... /certs shows it revoked, the other still issued',
	    async () => {
		need('revoked');
		const rows = await listCerts(page, PORTAL);
		eq(rows.find((x) => x.id === st.id1)?.state, 'revoked',
		    `${st.id1} state`);
		eq(rows.find((x) => x.id === st.id2)?.state, 'issued',
		    `${st.id2} state`);
	});
	await c('... `sprov-ca list --revoked` has its serial, keyCompromise',
	    async () => {
		need('revoked', 'cert1');
		const out = sprovCa(CA_DIR, 'list', '--revoked', '--json');
		const e = JSON.parse(out).find((x) =>
		    normSerial(x.serial) === st.cert1.serial);
		expect(e, `serial ${st.cert1.serial} not in:\n${out}`);
		eq(e.status, 'revoked', 'status');
		eq(e.reason, 'keyCompromise', 'reason');
		const plain = sprovCa(CA_DIR, 'list', '--revoked');
		expect(plain.includes(st.cert1.serial), plain);
		expect(!JSON.parse(out).some((x) =>
		    normSerial(x.serial) === st.cert2?.serial),
		    'the other certificate is revoked too');
	});
}

async function logout(browser, page)
{
	const c = tap.check.bind(tap);
	let old;
	await c('logout: #logout-submit leads to /login', async () => {
		need('user1');
		await page.goto(`${PORTAL}/certs`);
		old = await cookieOf(page.context());
		const r = await nav(page, () => page.click('#logout-submit'));
		eq((await firstResponse(r)).status(), 303,
		    'status of POST /logout');
		eq(path(page), '/login', 'page after logout');
		const again = await page.goto(`${PORTAL}/certs`);
		eq(path(page), '/login', `/certs after logout ` +
		    `(${again.status()})`);
	});
	await c('... the old cookie replayed: /certs is 303 to /login',
	    async () => {
		expect(old, 'no cookie before logout');
		const replay = await newContext(browser);
		try {
			await replay.addCookies([old]);
			const r = await replay.request.get(`${PORTAL}/certs`,
			    { maxRedirects: 0 });
			eq(r.status(), 303, 'status');
			eq(new URL(r.headers().location, PORTAL).pathname,
			    '/login', 'Location');
			const dl = await replay.request.get(
			    `${PORTAL}/cert/${st.id2}/download`,
			    { maxRedirects: 0 });
			expect(!(await dl.text()).includes('BEGIN CERTIFICATE'),
			    `the download answers ${dl.status()} with ` +
			    'a certificate');
		} finally {
			await replay.close();
		}
	});
}

async function throttle(browser)
{
	const c = tap.check.bind(tap);
	const context = await newContext(browser);
	const page = await context.newPage();
	await c(`throttling: 5 wrong passwords for ${THR_USER}: 401 each`,
	    async () => {
		for (let i = 1; i <= 5; i++) {
			const r = await login(page, PORTAL, THR_USER,
			    `wrong password ${i}`);
			await wantStatus(r, 401, page);
		}
	});
	await c('... then the right password: 429, Retry-After, #error ' +
	    '"too many failed logins"', async () => {
		const r = await login(page, PORTAL, THR_USER, PASS);
		await shot(page, 'throttled');
		await wantStatus(r, 429, page);
		const ra = (await r.allHeaders())['retry-after'];
		expect(/^[1-9][0-9]*$/.test(ra ?? ''), `Retry-After: ${ra}`);
		const e = await text(page, '#error');
		expect(e.includes('too many failed logins'), `#error: ${e}`);
		eq(path(page), '/login', 'page');
	});
	await c(`... the lock is the user's: ${USER1} still logs in`,
	    async () => {
		const u = await loggedIn(browser, PORTAL, USER1);
		await u.context.close();
	});
	await context.close();
}

async function queue(browser)
{
	const c = tap.check.bind(tap);
	if (!QUEUE) {
		tap.ok(false, 'queue mode: the queue portal runs',
		    'SPROV_QUEUE is empty: the queue-mode server did not start');
		return;
	}
	let q;
	const a = makeCsr('qa', `pv.${QDOMAIN}`);
	const b = makeCsr('qb', `pv2.${QDOMAIN}`);
	await c(`queue mode: ${QUSER} logs in; /new offers the default days`,
	    async () => {
		q = await loggedIn(browser, QUEUE, QUSER);
		eq(await text(q.page, '#whoami'), `${QUSER} (${QORG})`,
		    '#whoami');
		await q.page.goto(`${QUEUE}/new`);
		const opts = await q.page.locator('select#days option')
		    .evaluateAll((os) => os.map((o) => o.value));
		const want = [90, 180, 365, 397, 730, 825]
		    .filter((d) => d <= QDAYS_MAX).map(String);
		eq(opts.join(','), want.join(','), 'days offered');
		eq(await q.page.inputValue('select#days'), String(QDAYS),
		    'days selected');
	});
	await c('queue mode: sign: /cert/ID pending with #pending, nothing ' +
	    'to download', async () => {
		expect(q, 'not logged in');
		const id = await sign(q.page, QUEUE, { pem: a.pem, days: 180 });
		await shot(q.page, 'cert-pending');
		eq(await text(q.page, '#state'), 'pending', '#state');
		eq(await count(q.page, '#pending'), 1, 'p#pending');
		eq(await count(q.page, '#download'), 0, 'a#download');
		eq(await count(q.page, 'pre#pem'), 0, 'pre#pem');
		const rows = await listCerts(q.page, QUEUE);
		eq(rows.find((x) => x.id === id)?.state, 'pending',
		    'state in /certs');
		st.q1 = id;
	});
	await c('queue mode: `sprov-ca requests` lists it', async () => {
		need('q1');
		const out = sprovCa(QCA_DIR, 'requests');
		const line = out.split('\n').find((l) =>
		    l.split(/\s+/)[0] === st.q1);
		expect(line, `no line for ${st.q1} in:\n${out}`);
		expect(line.includes(a.cn) && line.includes(QUSER),
		    `the line lacks the CN or user: ${line}`);
	});
	await c('queue mode: `sprov-ca approve ID`, reload: issued, the ' +
	    'download verifies (180 days)', async () => {
		need('q1');
		eq((await certPage(q.page, QUEUE, st.q1)).state, 'pending',
		    '#state before approval');
		sprovCa(QCA_DIR, 'approve', st.q1);
		await q.page.reload();
		eq(await text(q.page, '#state'), 'issued', '#state');
		eq(await count(q.page, '#pending'), 0, 'p#pending');
		const d = await download(q.page, 'qa.pem');
		eq(d.suggested, `${a.cn}.pem`, 'file name');
		st.qcert = checkDownload(d.file, a, QCA_DIR, 180);
	});
	await c('queue mode: `sprov-ca reject ID --why`: rejected, #why ' +
	    'shows the reason', async () => {
		expect(q, 'not logged in');
		const id = await sign(q.page, QUEUE, { file: b.csr });
		eq(await text(q.page, '#state'), 'pending', '#state');
		sprovCa(QCA_DIR, 'reject', id, '--why', 'CN not ours');
		await q.page.reload();
		await shot(q.page, 'cert-rejected');
		eq(await text(q.page, '#state'), 'rejected', '#state');
		expect((await text(q.page, '#why')).includes('CN not ours'),
		    `#why: ${await text(q.page, '#why')}`);
		eq(await count(q.page, '#download'), 0, 'a#download');
		const rows = await listCerts(q.page, QUEUE);
		eq(rows.find((x) => x.id === id)?.state, 'rejected',
		    'state in /certs');
		expect(!sprovCa(QCA_DIR, 'list').includes(b.cn),
		    `${b.cn} is in the CA's index`);
	});
	await c('queue mode: revoke: "revocation requested" until approved, ' +
	    'then revoked', async () => {
		need('q1', 'qcert');
		await q.page.goto(`${QUEUE}/cert/${st.q1}`);
		await q.page.selectOption('select#reason', 'superseded');
		await nav(q.page, () => q.page.click('#revoke-submit'));
		eq(await text(q.page, '#state'), 'revocation requested',
		    '#state');
		expect(!sprovCa(QCA_DIR, 'list', '--revoked')
		    .includes(st.qcert.serial), 'revoked before approval');
		sprovCa(QCA_DIR, 'approve', st.q1);
		await q.page.reload();
		eq(await text(q.page, '#state'), 'revoked', '#state');
		const e = JSON.parse(sprovCa(QCA_DIR, 'list', '--revoked',
		    '--json')).find((x) =>
		    normSerial(x.serial) === st.qcert.serial);
		expect(e, 'the serial is not in list --revoked');
		eq(e.reason, 'superseded', 'reason');
	});
	if (q)
		await q.context.close();
}

// What the watchers saw over the whole run.
async function summary()
{
	await Promise.all(seen.pending);
	tap.ok(seen.htmlPages > 0 && seen.headerFaults.length === 0,
	    `every HTML response had the security headers ` +
	    `(${seen.htmlPages} pages)`,
	    seen.headerFaults.slice(0, 10).join('\n') ||
	    'no HTML page was seen');
	tap.ok(seen.htmlPages > 0 && seen.inline.length === 0,
	    'no page had a <script>, <style> or style= attribute',
	    seen.inline.slice(0, 10).join('\n') || 'no HTML page was seen');
	tap.ok(seen.csp.length === 0, 'the browser reported no CSP violation',
	    seen.csp.slice(0, 10).join('\n'));
	tap.ok(seen.pageErrors.length === 0, 'no script error in any page',
	    seen.pageErrors.slice(0, 10).join('\n'));
	tap.ok(seen.offsite.length === 0,
	    'the browser requested nothing but the portal',
	    seen.offsite.slice(0, 10).join('\n'));
}

// ---- main ------------------------------------------------------------

let browser;
const watchdog = setTimeout(async () => {
	tap.ok(false, `the browser tests end within ${DEADLINE / 1000} s`);
	console.log(`1..${tap.n}`);
	try {
		await browser?.close();
	} finally {
		process.exit(1);
	}
}, DEADLINE);

let status = 0;
try {
	try {
		browser = await launch();
	} catch (e) {
		tap.ok(false, 'chromium starts headless', errorText(e));
		throw e;
	}
	tap.comment(`chromium ${browser.version()}, screenshots in ${SHOTS}`);
	await online(browser);
	await queue(browser);
	await summary();
} catch (e) {
	// Only what escaped a case lands here: say so, do not hide it.
	tap.ok(false, 'the browser tests ran to the end', errorText(e));
	status = 1;
} finally {
	clearTimeout(watchdog);
	if (browser)
		await browser.close().catch(() => {});
}
tap.comment(`screenshots: ${SHOTS} (${shotN})`);
process.exit(status || (tap.failed ? 1 : 0));
