// Server-Sent Events over fetch(): EventSource cannot send the Authorization header, so the
// stream is read from a fetch body. The parser follows the HTML standard's event-stream rules.

export class EventStreamParser {
  constructor() {
    this.buffer = '';
    this.lastEventId = '';
    this.retry = null;
    this.reset();
  }

  reset() {
    this.data = [];
    this.type = '';
  }

  /** Feed decoded text; returns the events it completed ({id, type, data}). */
  push(text) {
    this.buffer += text;
    const events = [];
    let pos = 0;
    while (pos < this.buffer.length) {
      const cr = this.buffer.indexOf('\r', pos);
      const lf = this.buffer.indexOf('\n', pos);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      let next = end + 1;
      if (this.buffer[end] === '\r') {
        if (end + 1 === this.buffer.length) break; // may be the first half of CRLF
        if (this.buffer[end + 1] === '\n') next = end + 2;
      }
      const event = this.line(this.buffer.slice(pos, end));
      if (event) events.push(event);
      pos = next;
    }
    this.buffer = this.buffer.slice(pos);
    return events;
  }

  line(text) {
    if (text === '') {
      if (this.data.length === 0) {
        this.reset();
        return null;
      }
      const event = {
        id: this.lastEventId,
        type: this.type || 'message',
        data: this.data.join('\n'),
      };
      this.reset();
      return event;
    }
    if (text.startsWith(':')) return null; // a comment: the server's heartbeat
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    else if (field === 'id' && !value.includes('\0')) this.lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    return null;
  }
}

// No byte for this long (the server sends a heartbeat every 15 s) means a dead connection
// nobody closed: a phone that changed networks. Reconnect rather than show a frozen board.
const SILENCE_MS = 45_000;
const FIRST_DELAY_MS = 1_000;
const MAX_DELAY_MS = 30_000;

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * Follow an event stream until `signal` aborts, reconnecting with Last-Event-ID.
 * token(): a valid access token; refresh(): get a new one after a 401;
 * onEvent({id, type, data}); onState('live' | 'reconnecting' | 'unavailable', detail).
 */
export function follow(url, { token, refresh, onEvent, onState, signal }) {
  let lastEventId = '';
  let delay = FIRST_DELAY_MS;
  let refused = 0;

  async function once() {
    const connection = new AbortController();
    const abort = () => connection.abort();
    signal.addEventListener('abort', abort);
    let watchdog = setTimeout(abort, SILENCE_MS);
    try {
      const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${await token()}` };
      if (lastEventId) headers['Last-Event-ID'] = lastEventId;
      const response = await fetch(url, { headers, cache: 'no-store', signal: connection.signal });
      if (response.status === 401 && refused++ === 0) {
        await refresh();
        return 'retry';
      }
      if (!response.ok || !response.body) {
        onState('unavailable', { status: response.status });
        return 'failed';
      }
      refused = 0;
      delay = FIRST_DELAY_MS;
      onState('live', { resumed: lastEventId !== '' });
      const parser = new EventStreamParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        clearTimeout(watchdog);
        watchdog = setTimeout(abort, SILENCE_MS);
        for (const event of parser.push(value)) {
          if (event.id) lastEventId = event.id;
          onEvent(event);
        }
        if (parser.retry !== null) delay = parser.retry;
      }
      return 'ended';
    } catch (error) {
      if (!signal.aborted) onState('reconnecting', { error: String(error) });
      return 'failed';
    } finally {
      clearTimeout(watchdog);
      signal.removeEventListener('abort', abort);
    }
  }

  (async () => {
    while (!signal.aborted) {
      const how = await once();
      if (signal.aborted) break;
      if (how === 'retry') continue;
      if (how === 'ended') onState('reconnecting', {});
      await pause(delay * (0.8 + Math.random() * 0.4), signal);
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  })();
}
