// The OpenAI Responses API for stub-server.js, enough for the real Codex
// CLI (`codex exec`).  The CLI is pointed at the stub by a model provider
// in $CODEX_HOME/config.toml (base_url http://127.0.0.1:PORT/v1,
// wire_api "responses").
//
// POST /v1/responses answers in the streaming (SSE) form codex asks for
// ("stream": true): response.created, an assistant message as
// response.output_item.added, two response.output_text.delta,
// response.output_item.done, then response.completed with the usage.
// The log line of a request adds "thread", the CLI's thread id (its
// "session-id" header); its messages are the user and assistant
// messages of the conversation (the CLI's own context blocks,
// "<environment_context>" and the like, left out), and cwd is the <cwd>
// of the turn's environment context.  Also answered: GET /v1/models.
//
// Keys of the control file of this API:
//   "drop":    the next N streams end after half the answer, with no
//              response.completed (a dropped connection); consumed like
//              "fail"
//   "input_tokens", "cached_tokens", "output_tokens":
//              the usage reported (defaults 100 + items, 40, 7)
'use strict';

let seq = 0;

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

// What the log and the default reply need of a request.
function describe(body, req) {
	const input = Array.isArray(body.input) ? body.input : [];
	const messages = input
		.filter((m) => m && m.type === 'message' &&
			(m.role === 'user' || m.role === 'assistant'))
		.map((m) => ({ role: m.role, text: textOf(m.content) }))
		.filter((m) => !isContext(m.text));
	return {
		cwd: cwdOf(input),
		fields: { thread: req.headers['session-id'] || null },
		messages,
		turns: messages.filter((m) => m.role === 'user').length,
	};
}

function reply(stub, res, body, c, text) {
	const input = Array.isArray(body.input) ? body.input : [];
	const inTok = c.input_tokens !== undefined ? c.input_tokens
		: 100 + input.length;
	const cached = c.cached_tokens !== undefined ? c.cached_tokens : 40;
	const outTok = c.output_tokens !== undefined ? c.output_tokens : 7;
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
		stub.sendJson(res, 200, {
			id, object: 'response', status: 'completed',
			model: body.model, output: [item], usage,
		});
		return;
	}
	const ev = stub.startStream(res);
	ev('response.created', { response: { id, status: 'in_progress' } });
	ev('response.output_item.added', { output_index: 0,
		item: Object.assign({}, item, { status: 'in_progress',
			content: [] }) });
	// two deltas, so the CLI really assembles a stream
	const half = Math.floor(text.length / 2);
	ev('response.output_text.delta', { item_id: msgId,
		output_index: 0, content_index: 0,
		delta: text.slice(0, half) });
	if (c.drop && stub.take('drop', c.drop)) {
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
}

// Requests other than POST /v1/responses: true if answered.
function other(stub, req, res, where) {
	if (req.method !== 'GET' || where !== '/v1/models') return false;
	stub.sendJson(res, 200, { object: 'list', data: [] });
	return true;
}

module.exports = { path: '/v1/responses', describe, reply, sendError, other };
