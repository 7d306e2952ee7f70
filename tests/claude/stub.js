#!/usr/bin/env node
// A small stand-in for the Anthropic Messages API, enough for the real
// Claude Code CLI to hold conversations against it in the tests.
//
//   node tests/claude/stub.js --log FILE [--control FILE] [--ttl SECONDS]
//
// Listens on 127.0.0.1 on a free port (never any other address) and
// prints the port on the first line of stdout.  Exits by itself after
// --ttl seconds (default 300) so a test that forgets it leaves nothing.
//
// POST /v1/messages answers in the streaming (SSE) form when the request
// asks for "stream": true, else with one JSON message.  Every request is
// appended to the log as one JSON line:
//   {"method", "path", "model", "stream", "cwd", "status",
//    "messages": [{"role", "text"}]}
// where text is the message's text blocks joined, and cwd is the
// "Primary working directory" the CLI put in its system prompt.
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
//   "stream_error": {"type", "message"} for the next requests that
//              stream (one each, counted like "fail"): the answer starts
//              and then an SSE error event ends it half-way
//   "stream_cut": the next streamed answers (a count) stop half-way
//              without an error: the connection is closed
//   "input_tokens", "output_tokens", "cache_read", "cache_creation":
//              the usage reported (defaults 100 + messages, 7, 3, 2)
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
let breakUsed = 0;

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
		breakUsed = 0;
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
		.map((b) => {
			if (b && b.type === 'text') return b.text;
			if (b && b.type === 'tool_result') return textOf(b.content);
			return '';
		})
		.join('');
}

function cwdOf(body) {
	const sys = Array.isArray(body.system)
		? body.system.map((b) => (b && b.text) || '').join('\n')
		: String(body.system || '');
	const m = /Primary working directory: (.*)/.exec(sys);
	return m ? m[1].trim() : null;
}

function log(entry) {
	if (opts.log) fs.appendFileSync(opts.log, JSON.stringify(entry) + '\n');
}

const errorTypes = {
	400: 'invalid_request_error',
	401: 'authentication_error',
	403: 'permission_error',
	404: 'not_found_error',
	413: 'request_too_large',
	429: 'rate_limit_error',
	500: 'api_error',
	529: 'overloaded_error',
};

function sendError(res, status, message) {
	const type = errorTypes[status] || 'api_error';
	const defaults = {
		401: 'invalid x-api-key',
		429: 'rate limited by the stub',
		529: 'Overloaded',
	};
	res.writeHead(status, {
		'content-type': 'application/json',
		'request-id': 'req_stub',
	});
	res.end(JSON.stringify({
		type: 'error',
		error: { type, message: message || defaults[status] ||
			`stub error ${status}` },
	}));
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
	const messages = Array.isArray(body.messages) ? body.messages : [];
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
		cwd: cwdOf(body),
		status,
		messages: messages.map((m) => ({ role: m.role,
			text: textOf(m.content) })),
	});
	const go = () => {
		if (status !== 200) {
			sendError(res, status, c.message);
			return;
		}
		const text = c.reply !== undefined ? String(c.reply)
			: `stub reply ${turns}`;
		const usage = {
			input_tokens: c.input_tokens !== undefined
				? c.input_tokens : 100 + messages.length,
			cache_read_input_tokens: c.cache_read !== undefined
				? c.cache_read : 3,
			cache_creation_input_tokens: c.cache_creation !== undefined
				? c.cache_creation : 2,
			output_tokens: c.output_tokens !== undefined
				? c.output_tokens : 7,
		};
		const id = `msg_stub_${Date.now()}`;
		if (!body.stream) {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({
				id, type: 'message', role: 'assistant',
				model: body.model,
				content: [{ type: 'text', text }],
				stop_reason: 'end_turn', stop_sequence: null, usage,
			}));
			return;
		}
		res.writeHead(200, {
			'content-type': 'text/event-stream',
			'cache-control': 'no-cache',
		});
		const ev = (type, data) => res.write(`event: ${type}\n` +
			`data: ${JSON.stringify(Object.assign({ type }, data))}\n\n`);
		ev('message_start', { message: {
			id, type: 'message', role: 'assistant', model: body.model,
			content: [], stop_reason: null, stop_sequence: null,
			usage: Object.assign({}, usage, { output_tokens: 1 }),
		} });
		ev('content_block_start', { index: 0,
			content_block: { type: 'text', text: '' } });
		// two deltas, so the CLI really assembles a stream
		const half = Math.floor(text.length / 2);
		ev('content_block_delta', { index: 0,
			delta: { type: 'text_delta', text: text.slice(0, half) } });
		if (c.stream_error && breakUsed < (c.stream_error.count || 1)) {
			breakUsed++;
			ev('error', { error: {
				type: c.stream_error.type || 'overloaded_error',
				message: c.stream_error.message || 'Overloaded' } });
			res.end();
			return;
		}
		if (c.stream_cut && breakUsed < c.stream_cut) {
			breakUsed++;
			res.socket.destroy();
			return;
		}
		ev('content_block_delta', { index: 0,
			delta: { type: 'text_delta', text: text.slice(half) } });
		ev('content_block_stop', { index: 0 });
		ev('message_delta', {
			delta: { stop_reason: 'end_turn', stop_sequence: null },
			usage: { output_tokens: usage.output_tokens },
		});
		ev('message_stop', {});
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
		if (req.method === 'POST' && path === '/v1/messages') {
			answer(req, res, raw);
			return;
		}
		log({ method: req.method, path: req.url });
		if (req.method === 'HEAD' || (req.method === 'GET' &&
		    path === '/')) {
			res.writeHead(200);
			res.end();
		} else if (req.method === 'POST' &&
			   path === '/v1/messages/count_tokens') {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ input_tokens: 100 }));
		} else if (req.method === 'GET' && path === '/v1/models') {
			res.writeHead(200, { 'content-type': 'application/json' });
			res.end(JSON.stringify({ data: [], has_more: false,
				first_id: null, last_id: null }));
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
