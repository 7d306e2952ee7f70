#!/usr/bin/env node
// A small stand-in for an LLM provider's HTTP API, enough for a real
// agent CLI installed from npm to hold conversations against it in the
// tests.  What is the same for every provider is here: the server, the
// request log, the scripted replies of the control file, start and stop.
// What a provider's API looks like is in a small file next to this one:
// anthropic.js (the Messages API, for Claude Code) and openai.js (the
// Responses API, for Codex).
//
//   node tests/npm-agent/stub-server.js --api anthropic|openai --log FILE
//        [--control FILE] [--ttl SECONDS]
//
// Listens on 127.0.0.1 on a free port (never any other address) and
// prints the port on the first line of stdout.  Exits by itself after
// --ttl seconds (default 300) so a test that forgets it leaves nothing,
// and on SIGTERM.
//
// The API's endpoint (POST /v1/messages, POST /v1/responses) answers in
// the streaming (SSE) form when the request asks for "stream": true,
// else with one JSON object.  Every request is appended to the log as one
// JSON line:
//   {"method", "path", "model", "stream", "cwd", "status", ...,
//    "messages": [{"role", "text"}]}
// with the fields the provider's file adds (see there); other requests
// are logged as {"method", "path"}.
//
// The control file (JSON, re-read on every request, may be absent) says
// how to answer:
//   "reply":   text of the answer (default "stub reply N", N = the
//              number of user messages in the conversation)
//   "fail":    [429, 500, ...] the next requests fail with these HTTP
//              statuses, one each, in order; consumed per control file
//              content, so rewriting the file starts a new sequence
//   "always":  an HTTP status every request fails with (e.g. 401)
//   "message": the error message of a failure (default depends on it)
//   "delay_ms": wait this long before answering (a hung API)
// and the provider's own keys (usage, broken streams: see its file).
'use strict';

const fs = require('fs');
const http = require('http');
const path = require('path');

const opts = { api: null, log: null, control: null, ttl: 300 };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	const v = process.argv[i + 1];
	if (a === '--api') opts.api = v;
	else if (a === '--log') opts.log = v;
	else if (a === '--control') opts.control = v;
	else if (a === '--ttl') opts.ttl = Number(v);
	else {
		process.stderr.write(`stub: unknown argument ${a}\n`);
		process.exit(2);
	}
	i++;
}
if (!/^[a-z]+$/.test(opts.api || '') ||
    !fs.existsSync(path.join(__dirname, `${opts.api}.js`))) {
	process.stderr.write(`stub: --api anthropic or openai, not ` +
		`${opts.api}\n`);
	process.exit(2);
}
const api = require(`./${opts.api}.js`);

// Counters of the scripted replies ("fail", and the provider's broken
// streams), started again whenever the control file changes.
let controlText = null;
let used = {};

function control() {
	if (!opts.control) return {};
	let text;
	try {
		text = fs.readFileSync(opts.control, 'utf8');
	} catch (e) {
		return {};
	}
	if (text !== controlText) {
		controlText = text;
		used = {};
	}
	try {
		return JSON.parse(text);
	} catch (e) {
		return {};
	}
}

// Whether one more of the scripted "name" events (at most limit) is due;
// counts it if so.
function take(name, limit) {
	const n = used[name] || 0;
	if (!(n < limit)) return false;
	used[name] = n + 1;
	return true;
}

function log(entry) {
	if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(entry) + '\n');
}

function sendJson(res, status, body, headers) {
	res.writeHead(status, Object.assign({
		'content-type': 'application/json' }, headers || {}));
	res.end(JSON.stringify(body));
}

// Start an SSE answer; returns ev(type, data) that sends one event.
function startStream(res) {
	res.writeHead(200, {
		'content-type': 'text/event-stream',
		'cache-control': 'no-cache',
	});
	return (type, data) => res.write(`event: ${type}\n` +
		`data: ${JSON.stringify(Object.assign({ type }, data))}\n\n`);
}

const stub = { take, sendJson, startStream };

function answer(req, res, raw) {
	let body = {};
	try {
		body = JSON.parse(raw);
	} catch (e) {
		api.sendError(res, 400, 'stub: request body is not JSON');
		return;
	}
	const c = control();
	const seen = api.describe(body, req);
	let status = 200;
	if (c.always) status = c.always;
	else if (Array.isArray(c.fail) && take('fail', c.fail.length))
		status = c.fail[used.fail - 1];
	log(Object.assign({
		method: req.method,
		path: req.url,
		model: body.model,
		stream: !!body.stream,
		cwd: seen.cwd,
		status,
	}, seen.fields, { messages: seen.messages }));
	const go = () => {
		if (status !== 200) {
			api.sendError(res, status, c.message);
			return;
		}
		const text = c.reply !== undefined ? String(c.reply)
			: `stub reply ${seen.turns}`;
		api.reply(stub, res, body, c, text);
	};
	if (c.delay_ms) setTimeout(go, c.delay_ms);
	else go();
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (d) => chunks.push(d));
	req.on('end', () => {
		const raw = Buffer.concat(chunks).toString('utf8');
		const where = req.url.split('?')[0];
		if (req.method === 'POST' && where === api.path) {
			answer(req, res, raw);
			return;
		}
		log({ method: req.method, path: req.url });
		if (!api.other(stub, req, res, where))
			api.sendError(res, 404,
				`stub: no ${req.method} ${where}`);
	});
});

server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`${server.address().port}\n`);
});
setTimeout(() => process.exit(0), opts.ttl * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
