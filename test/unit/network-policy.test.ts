import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { guardedGet, guardedPost, RefusedAddressError, TooLargeError } from '../../lib/guarded-http';
import { NetworkPolicy } from '../../lib/network-policy';

describe('network policy: where tenant-chosen URLs may point', () => {
  const strict = new NetworkPolicy();

  test('private, loopback, link-local, CGNAT, reserved and mapped addresses are refused', async () => {
    for (const url of ['http://127.0.0.1/x', 'http://10.1.2.3/x', 'http://172.20.0.1/x', 'http://192.168.1.1/x', 'http://169.254.169.254/latest/meta-data',
      'http://100.64.0.1/x', 'http://0.0.0.0/x', 'http://[::1]/x', 'http://[fd00::1]/x', 'http://[fe80::1]/x', 'http://[::ffff:10.0.0.1]/x', 'http://224.0.0.1/x']) {
      assert.match((await strict.check(url)) ?? 'allowed', /private or reserved/, url);
    }
  });

  test('public addresses pass; non-HTTP schemes do not', async () => {
    assert.equal(await strict.check('https://8.8.8.8/hook'), null);
    assert.equal(await strict.check('https://[2606:4700::1111]/hook'), null);
    assert.match((await strict.check('ftp://8.8.8.8/x')) ?? '', /http and https/);
  });

  test('a name is checked by what it resolves to; one that does not resolve is left to delivery', async () => {
    assert.match((await strict.check('http://localhost:8080/hook')) ?? 'allowed', /localhost is a private or reserved address/);
    assert.equal(await strict.check('https://no-such-host.invalid/hook'), null);
  });

  test('the operator\'s allowlist: host names, addresses, CIDR networks, or everything', async () => {
    const policy = new NetworkPolicy(['hooks.internal', '10.20.0.0/16', '192.168.1.7']);
    assert.equal(policy.refusal('hooks.internal', '10.9.9.9'), null);
    assert.equal(policy.refusal('x', '10.20.3.4'), null);
    assert.equal(policy.refusal('x', '192.168.1.7'), null);
    assert.match(policy.refusal('x', '10.21.0.1') ?? '', /private/);
    assert.equal(new NetworkPolicy(['*']).refusal('x', '127.0.0.1'), null);
    assert.equal(new NetworkPolicy(['']).refusal('x', '127.0.0.1')?.includes('private'), true);
  });
});

describe('guardedPost: the check happens as the socket connects', () => {
  let server: http.Server;
  let port = 0;
  const received: string[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/stream') { res.writeHead(200); for (let i = 0; i < 3; i++) res.write(Buffer.alloc(600)); res.end(); return; } // no length announced
      if (req.method === 'GET') { res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.alloc(req.url === '/big' ? 5000 : 100)); return; }
      let body = ''; req.on('data', (c) => { body += c; }); req.on('end', () => { received.push(body); res.writeHead(204).end(); });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('refused by address and by name without a byte sent; allowed when listed', async () => {
    const post = (url: string, policy: NetworkPolicy) => guardedPost(url, { headers: { 'content-type': 'application/json' }, body: '{"n":1}', timeoutMs: 2000, policy });
    await assert.rejects(post(`http://127.0.0.1:${port}/hook`, new NetworkPolicy()), RefusedAddressError);
    await assert.rejects(post(`http://localhost:${port}/hook`, new NetworkPolicy()), RefusedAddressError);
    assert.equal(received.length, 0, 'nothing reached the private address');
    assert.equal((await post(`http://localhost:${port}/hook`, new NetworkPolicy(['localhost']))).status, 204);
    assert.equal((await post(`http://127.0.0.1:${port}/hook`, new NetworkPolicy(['127.0.0.0/8']))).status, 204);
    assert.deepEqual(received, ['{"n":1}', '{"n":1}']);
  });

  test('GET: refused when private, limited in size when allowed', async () => {
    const allowed = new NetworkPolicy(['127.0.0.1']);
    await assert.rejects(guardedGet(`http://127.0.0.1:${port}/small`, { timeoutMs: 2000, maxBytes: 1000, policy: new NetworkPolicy() }), RefusedAddressError);
    const small = await guardedGet(`http://127.0.0.1:${port}/small`, { timeoutMs: 2000, maxBytes: 1000, policy: allowed });
    assert.equal(small.status, 200);
    assert.equal(small.body.length, 100);
    await assert.rejects(guardedGet(`http://127.0.0.1:${port}/big`, { timeoutMs: 2000, maxBytes: 1000, policy: allowed }), TooLargeError);
    await assert.rejects(guardedGet(`http://127.0.0.1:${port}/stream`, { timeoutMs: 2000, maxBytes: 1000, policy: allowed }), TooLargeError);
  });
});
