// A WebSocket server on loopback for the interop suite, after the Autobahn
// testsuite's cases: well-behaved endpoints run on the npm "ws" package,
// misbehaving ones on the raw socket after a handshake written by hand.
//
// Usage: NODE_PATH=<dir holding ws> node server.js
// It listens on 127.0.0.1 on a free port, prints the port on the first line
// of its standard output, and runs until killed or its standard input ends.
//
// Every WebSocket URL may carry ?id=X; the close frame the client sends on
// that connection (code and reason) is then answered by the plain HTTP
// request GET /closed?id=X as "<code> <reason>" (waiting up to 10 s for it;
// "none" when the connection ended without one). Code 0 means a close frame
// without a code.
//
// Endpoints (ws library; permessage-deflate offered with threshold 0):
//   /echo               echoes every message with its type
//   /hello              sends {"protocol", "extensions"} as text, then closes 1000 "bye"
//   /fragments          sends "abc"+"def"+"ghi" as one fragmented text message,
//                       a fragmented binary one, then closes 1000
//   /big?n=N            sends one binary message of N bytes ('x'), then waits
//   /many?n=N           sends the text messages "0" .. "N-1", then closes 1000 "done"
//   /ping               pings the client with "hi"; when the pong comes, sends
//                       the text "pong hi"
//   /close?code=C&reason=R   closes with C and R at once
// Subprotocols: the first one the client offers of "v2.echo" and "v1.echo".
//
// Raw endpoints (/raw/...): a 101 by hand, then one misbehaving frame, then
// the socket reads the client's frames until it goes:
//   bad-utf8, rsv, close-1005, close-999, long-reason, oversized, masked,
//   fragmented-ping, continuation, hang (no answer to the handshake at all)
'use strict';

const crypto = require('crypto');
const http = require('http');
const { URL } = require('url');

let WebSocket;
try {
  WebSocket = require('ws');
} catch (e) {
  process.stderr.write('the npm package ws is not installed: ' + e.message + '\n');
  process.exit(3);
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// closes holds the close frame each identified connection got, and
// waiters the /closed requests waiting for one.
const closes = new Map();
const waiters = new Map();

function recordClose(id, text) {
  if (!id || closes.has(id)) return;
  closes.set(id, text);
  for (const res of waiters.get(id) || []) res.end(text);
  waiters.delete(id);
}

function chooseProtocol(offered) {
  for (const p of ['v2.echo', 'v1.echo']) {
    if (offered.has(p)) return p;
  }
  return false;
}

const wss = new WebSocket.WebSocketServer({
  noServer: true,
  maxPayload: 64 << 20,
  perMessageDeflate: { threshold: 0 },
  handleProtocols: chooseProtocol,
});

function serveLibrary(ws, u) {
  const id = u.searchParams.get('id');
  ws.on('close', (code, reason) => {
    // ws reports 1005 for a close frame without a code, and 1006 when none
    // came; a close frame it sent itself and the client echoed is the
    // client's too.
    if (code === 1006) recordClose(id, 'none');
    else recordClose(id, (code === 1005 ? 0 : code) + ' ' + reason.toString());
  });
  ws.on('error', () => {});
  switch (u.pathname) {
    case '/echo':
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
      break;
    case '/hello':
      ws.send(JSON.stringify({ protocol: ws.protocol, extensions: ws.extensions }));
      ws.close(1000, 'bye');
      break;
    case '/fragments':
      ws.send('abc', { fin: false });
      ws.send('def', { fin: false });
      ws.send('ghi', { fin: true });
      ws.send(Buffer.from([1, 2]), { binary: true, fin: false });
      ws.send(Buffer.from([3]), { binary: true, fin: true });
      ws.close(1000, '');
      break;
    case '/big': {
      const n = Number(u.searchParams.get('n'));
      ws.send(Buffer.alloc(n, 'x'), { binary: true });
      break;
    }
    case '/many': {
      const n = Number(u.searchParams.get('n'));
      for (let i = 0; i < n; i++) ws.send(String(i));
      ws.close(1000, 'done');
      break;
    }
    case '/ping':
      ws.on('pong', (data) => ws.send('pong ' + data.toString()));
      ws.ping('hi');
      break;
    case '/close':
      ws.close(Number(u.searchParams.get('code')), u.searchParams.get('reason') || '');
      break;
    default:
      ws.close(1008, 'no such endpoint');
  }
}

// frame returns an unmasked frame: first byte b0, the payload's length in
// the shortest form, and the payload.
function frame(b0, payload) {
  let head;
  if (payload.length < 126) {
    head = Buffer.from([b0, payload.length]);
  } else if (payload.length < 65536) {
    head = Buffer.alloc(4);
    head[0] = b0;
    head[1] = 126;
    head.writeUInt16BE(payload.length, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = b0;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(payload.length), 2);
  }
  return Buffer.concat([head, payload]);
}

function closePayload(code, reason) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return Buffer.concat([b, Buffer.from(reason)]);
}

const misbehaviours = {
  'bad-utf8': () => frame(0x81, Buffer.from([0x68, 0x69, 0xff, 0xfe])),
  rsv: () => frame(0x81 | 0x40, Buffer.from('compressed?')),
  'close-1005': () => frame(0x88, closePayload(1005, '')),
  'close-999': () => frame(0x88, closePayload(999, '')),
  'long-reason': () => frame(0x88, closePayload(1000, 'r'.repeat(124))),
  // 2^40 bytes announced: a client must refuse it, not allocate it.
  oversized: () => {
    const head = Buffer.alloc(10);
    head[0] = 0x82;
    head[1] = 127;
    head.writeBigUInt64BE(1n << 40n, 2);
    return Buffer.concat([head, Buffer.alloc(1024, 'x')]);
  },
  masked: () => {
    const payload = Buffer.from('masked');
    const key = Buffer.from([1, 2, 3, 4]);
    const masked = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
    return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), key, masked]);
  },
  'fragmented-ping': () => frame(0x09, Buffer.from('x')),
  continuation: () => frame(0x80, Buffer.from('orphan')),
};

// readClientFrames parses the client's masked frames on socket and records
// its close frame for id.
function readClientFrames(socket, id, head) {
  let buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  const take = () => {
    for (;;) {
      if (buf.length < 2) return;
      const b0 = buf[0];
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const keyLen = buf[1] & 0x80 ? 4 : 0;
      if (buf.length < off + keyLen + len) return;
      const key = buf.subarray(off, off + keyLen);
      const payload = Buffer.from(buf.subarray(off + keyLen, off + keyLen + len));
      for (let i = 0; keyLen && i < payload.length; i++) payload[i] ^= key[i % 4];
      buf = buf.subarray(off + keyLen + len);
      if ((b0 & 0x0f) === 0x8) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
        recordClose(id, code + ' ' + payload.subarray(2).toString());
        socket.end();
        return;
      }
    }
  };
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    take();
  });
  socket.on('close', () => recordClose(id, 'none'));
  socket.on('error', () => {});
  take();
}

function serveRaw(req, socket, head, u) {
  const name = u.pathname.slice('/raw/'.length);
  const id = u.searchParams.get('id');
  socket.on('error', () => {});
  if (name === 'hang') {
    // Never answer; the client gives up. Keep reading so the client's
    // writes never block.
    socket.on('data', () => {});
    socket.on('close', () => recordClose(id, 'none'));
    return;
  }
  const make = misbehaviours[name];
  if (!make) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + GUID).digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  socket.write(make());
  readClientFrames(socket, id, head);
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (u.pathname !== '/closed') {
    res.writeHead(404).end();
    return;
  }
  const id = u.searchParams.get('id');
  if (closes.has(id)) {
    res.end(closes.get(id));
    return;
  }
  if (!waiters.has(id)) waiters.set(id, []);
  waiters.get(id).push(res);
  setTimeout(() => {
    if (!res.writableEnded) res.writeHead(504).end('no close within 10 s');
  }, 10000).unref();
});

server.on('upgrade', (req, socket, head) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (u.pathname.startsWith('/raw/')) {
    serveRaw(req, socket, head, u);
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => serveLibrary(ws, u));
});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write(server.address().port + '\n');
});

// The test that started the server ends it by closing its standard input.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
