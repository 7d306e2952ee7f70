// The Anthropic Messages API for stub-server.js, enough for the real
// Claude Code CLI.
//
// POST /v1/messages; the log line of a request has no field of its own:
// a message's text is its text blocks joined, and cwd is the "Primary
// working directory" the CLI put in its system prompt.  Also answered:
// HEAD anything, GET /, POST /v1/messages/count_tokens, GET /v1/models.
//
// Keys of the control file of this API:
//   "stream_error": {"type", "message"} for the next requests that
//              stream (one each, counted like "fail"): the answer starts
//              and then an SSE error event ends it half-way
//   "stream_cut": the next streamed answers (a count) stop half-way
//              without an error: the connection is closed
//   "input_tokens", "output_tokens", "cache_read", "cache_creation":
//              the usage reported (defaults 100 + messages, 7, 3, 2)
'use strict';

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

// What the log and the default reply need of a request.
function describe(body) {
	const messages = Array.isArray(body.messages) ? body.messages : [];
	return {
		cwd: cwdOf(body),
		fields: {},
		messages: messages.map((m) => ({ role: m.role,
			text: textOf(m.content) })),
		turns: messages.filter((m) => m.role === 'user').length,
	};
}

function reply(stub, res, body, c, text) {
	const messages = Array.isArray(body.messages) ? body.messages : [];
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
		stub.sendJson(res, 200, {
			id, type: 'message', role: 'assistant',
			model: body.model,
			content: [{ type: 'text', text }],
			stop_reason: 'end_turn', stop_sequence: null, usage,
		});
		return;
	}
	const ev = stub.startStream(res);
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
	if (c.stream_error &&
	    stub.take('break', c.stream_error.count || 1)) {
		ev('error', { error: {
			type: c.stream_error.type || 'overloaded_error',
			message: c.stream_error.message || 'Overloaded' } });
		res.end();
		return;
	}
	if (c.stream_cut && stub.take('break', c.stream_cut)) {
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
}

// Requests other than POST /v1/messages: true if answered.
function other(stub, req, res, where) {
	if (req.method === 'HEAD' || (req.method === 'GET' && where === '/')) {
		res.writeHead(200);
		res.end();
	} else if (req.method === 'POST' &&
		   where === '/v1/messages/count_tokens') {
		stub.sendJson(res, 200, { input_tokens: 100 });
	} else if (req.method === 'GET' && where === '/v1/models') {
		stub.sendJson(res, 200, { data: [], has_more: false,
			first_id: null, last_id: null });
	} else {
		return false;
	}
	return true;
}

module.exports = { path: '/v1/messages', describe, reply, sendError, other };
