// The email sandbox's SMTP pool against a minimal SMTP server on a free port: a session that died
// while idle (its socket timeout, or the server hanging up) is not handed out again.
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { SmtpPool } from '../../sandbox/platforms/email/smtp';

/** Answers every command with a success code and counts delivered messages and connections. */
function fakeSmtpServer() {
  const stats = { connections: 0, messages: 0 };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    stats.connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = '';
    let inData = false;
    socket.write('220 fake ESMTP\r\n');
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let i: number;
      while ((i = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, i);
        buffer = buffer.slice(i + 2);
        if (inData) {
          if (line === '.') { inData = false; stats.messages += 1; socket.write('250 queued\r\n'); }
          continue;
        }
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'DATA') { inData = true; socket.write('354 go ahead\r\n'); } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return {
    stats,
    listen: () => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port))),
    hangUpAll: () => { for (const s of sockets) s.destroy(); },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('sandbox SMTP pool', () => {
  const server = fakeSmtpServer();
  let port = 0;
  before(async () => { port = await server.listen(); });
  after(() => server.close());

  const envelope = { from: 'alice@customers.example', to: ['support@shop.example'], raw: 'Subject: hi\r\n\r\nhello\r\n' };
  const idleFor = (ms: number) => new Promise((r) => setTimeout(r, ms));

  test('a session whose socket timed out while idle is replaced, not reused', async () => {
    const pool = new SmtpPool({ host: '127.0.0.1', port, timeoutMs: 100 }, 1);
    try {
      await pool.send(envelope);
      await idleFor(300); // past the session's socket timeout
      await pool.send(envelope);
      assert.equal(server.stats.messages, 2);
    } finally {
      await pool.close();
    }
  });

  test('a session the server hung up on while idle is replaced', async () => {
    const pool = new SmtpPool({ host: '127.0.0.1', port }, 2);
    try {
      await pool.send(envelope);
      const before = server.stats.connections;
      server.hangUpAll();
      await idleFor(50);
      await pool.send(envelope);
      assert.equal(server.stats.connections, before + 1, 'a new connection');
    } finally {
      await pool.close();
    }
  });
});
