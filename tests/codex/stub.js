#!/usr/bin/env node
// A small stand-in for the OpenAI Responses API, enough for the real
// Codex CLI (`codex exec`) to hold conversations against it in the tests.
//
//   node tests/codex/stub.js --log FILE [--control FILE] [--ttl SECONDS]
//
// Listens on 127.0.0.1 on a free port (never any other address) and
// prints the port on the first line of stdout.  Exits by itself after
// --ttl seconds (default 300) so a test that forgets it leaves nothing.
// The CLI is pointed at it by a model provider in $CODEX_HOME/config.toml
// (base_url http://127.0.0.1:PORT/v1, wire_api "responses").
//
// POST /v1/responses answers in the streaming (SSE) form codex asks for
// ("stream": true): response.created, an assistant message as
// response.output_item.added, two response.output_text.delta,
// response.output_item.done, then response.completed with the usage.
// A request without "stream" gets one JSON response object.  Every
// request is appended to the log as one JSON line:
//   {"method", "path", "model", "stream", "cwd", "status", "thread",
//    "messages": [{"role", "text"}]}
// where messages are the user and assistant messages of the
// conversation (the CLI's own context blocks, "<environment_context>"
// and the like, left out), cwd is the <cwd> of the turn's environment
// context and thread the CLI's thread id (its "session-id" header).
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
//   "drop":    the next N streams end after half the answer, with no
//              response.completed (a dropped connection); consumed like
//              "fail"
//   "input_tokens", "cached_tokens", "output_tokens":
//              the usage reported (defaults 100 + items, 40, 7)
'use strict';

const fs = require('fs');
const http = require('http');

const opts = { log: null, control: null, ttl: 300 };
for (let i = 2; i < process.argv.length; i++) {
	const a = process.argv[i];
	const v = process.argv[i + 1];
	if (a === '--log') opts.log = v;
	else if (a === '--control') opts.control = v;
	else if (a === '--ttl') opts.ttl = Number(v);
	else {
		process.stderr.write(`stub: unknown argument ${a}\n`);
		process.exit(2);
	}
	i++;
}

let failKey = null;
let failUsed = 0;
let dropUsed = 0;
let seq = 0;

function control() {
	if (!opts.control) return {};
	let text;
	try {
		text = fs.readFileSync(opts.control, 'utf8');
	} catch (e) {
		return {};
	}
	if (text !== failKey) {
		failKey = text;
		failUsed = 0;
		dropUsed = 0;
	}
	try {
		return JSON.parse(text);
	} catch (e) {
		return {};
	}
}

function textOf(content) {
	if (typeof content === 'string') return content;
	if (!Array.isArray(content)) return '';
	return content
		.map((b) => (b && typeof b.text === 'string' ? b.text : ''))
		.join('');
}

// The CLI's own context (environment, AGENTS.md, instructions) comes as
// user messages wrapped in one tag; they are not the conversation.
function isContext(text) {
	return /^\s*<([a-z_]+)[\s>][\s\S]*<\/\1>\s*$/.test(text) ||
		/^# AGENTS\.md instructions/.test(text);
}

// The CLI sends an environment context at the start of a thread and
// again when a resumed turn runs elsewhere: the last one is the turn's.
function cwdOf(input) {
	let cwd = null;
	for (const m of input) {
		const t = textOf(m && m.content);
		const r = /<cwd>([^<]*)<\/cwd>/.exec(t);
		if (r) cwd = r[1];
	}
	return cwd;
}

function log(entry) {
	if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(entry) + '\n');
}

const errorTypes = {
	400: 'invalid_request_error',
	401: 'invalid_request_error',
	403: 'permission_denied',
	404: 'not_found',
	429: 'rate_limit_exceeded',
	500: 'server_error',
	503: 'server_error',
};

function sendError(res, status, message) {
	const defaults = {
		401: 'Incorrect API key provided: x. You can find your ' +
			'API key at https://platform.openai.com/account/api-keys.',
		429: 'Rate limit reached for the stub',
	};
	const code = status === 401 ? 'invalid_api_key'
		: status === 429 ? 'rate_limit_exceeded' : null;
	res.writeHead(status, {
		'content-type': 'application/json',
		'x-request-id': 'req_stub',
	});
	res.end(JSON.stringify({ error: {
		message: message || defaults[status] || `stub error ${status}`,
		type: errorTypes[status] || 'server_error',
		param: null, code,
	} }));
}

function answer(req, res, raw) {
	let body = {};
	try {
		body = JSON.parse(raw);
	} catch (e) {
		sendError(res, 400, 'stub: request body is not JSON');
		return;
	}
	const c = control();
	const input = Array.isArray(body.input) ? body.input : [];
	const messages = input
		.filter((m) => m && m.type === 'message' &&
			(m.role === 'user' || m.role === 'assistant'))
		.map((m) => ({ role: m.role, text: textOf(m.content) }))
		.filter((m) => !isContext(m.text));
	const turns = messages.filter((m) => m.role === 'user').length;
	let status = 200;
	if (c.always) status = c.always;
	else if (Array.isArray(c.fail) && failUsed < c.fail.length)
		status = c.fail[failUsed++];
	log({
		method: req.method,
		path: req.url,
		model: body.model,
		stream: !!body.stream,
		cwd: cwdOf(input),
		status,
		thread: req.headers['session-id'] || null,
		messages,
	});
	const go = () => {
		if (status !== 200) {
			sendError(res, status, c.message);
			return;
		}
		const text = c.reply !== undefined ? String(c.reply)
			: `stub reply ${turns}`;
		const inTok = c.input_tokens !== undefined ? c.input_tokens
			: 100 + input.length;
		const cached = c.cached_tokens !== undefined
			? c.cached_tokens : 40;
		const outTok = c.output_tokens !== undefined
			? c.output_tokens : 7;
		const usage = {
			input_tokens: inTok,
			input_tokens_details: { cached_tokens: cached },
			output_tokens: outTok,
			output_tokens_details: { reasoning_tokens: 0 },
			total_tokens: inTok + outTok,
		};
		const id = `resp_stub_${++seq}`;
		const msgId = `msg_stub_${seq}`;
		const item = {
			type: 'message', role: 'assistant', id: msgId,
			status: 'completed',
			content: [{ type: 'output_text', text, annotations: [] }],
		};
		if (!body.stream) {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({
				id, object: 'response', status: 'completed',
				model: body.model, output: [item], usage,
			}));
			return;
		}
		res.writeHead(200, {
			'content-type': 'text/event-stream',
			'cache-control': 'no-cache',
		});
		const ev = (type, data) => res.write(`event: ${type}\n` +
			`data: ${JSON.stringify(Object.assign({ type }, data))}\n\n`);
		ev('response.created', { response: { id,
			status: 'in_progress' } });
		ev('response.output_item.added', { output_index: 0,
			item: Object.assign({}, item, { status: 'in_progress',
				content: [] }) });
		// two deltas, so the CLI really assembles a stream
		const half = Math.floor(text.length / 2);
		ev('response.output_text.delta', { item_id: msgId,
			output_index: 0, content_index: 0,
			delta: text.slice(0, half) });
		if (c.drop && dropUsed < c.drop) {
			dropUsed++;
			res.destroy();
			return;
		}
		ev('response.output_text.delta', { item_id: msgId,
			output_index: 0, content_index: 0,
			delta: text.slice(half) });
		ev('response.output_item.done', { output_index: 0, item });
		ev('response.completed', { response: { id,
			status: 'completed', usage } });
		res.end();
	};
	if (c.delay_ms) setTimeout(go, c.delay_ms);
	else go();
}

const server = http.createServer((req, res) => {
	const chunks = [];
	req.on('data', (d) => chunks.push(d));
	req.on('end', () => {
		const raw = Buffer.concat(chunks).toString('utf8');
		const path = req.url.split('?')[0];
		if (req.method === 'POST' && path === '/v1/responses') {
			answer(req, res, raw);
			return;
		}
		log({ method: req.method, path: req.url });
		if (req.method === 'GET' && path === '/v1/models') {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ object: 'list', data: [] }));
		} else {
			sendError(res, 404, `stub: no ${req.method} ${path}`);
		}
	});
});

server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`${server.address().port}\n`);
});
setTimeout(() => process.exit(0), opts.ttl * 1000).unref();
process.on('SIGTERM', () => process.exit(0));
