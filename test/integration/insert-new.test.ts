// insertNew is what every "store it, then acknowledge it" path stands on (the webhook queue's group
// commit, drains, sends). When the database goes away mid-run, the driver wraps the network error in
// a MongoBulkWriteError with no write errors; that must fail the write, not read as "every document
// was a duplicate, so all is stored" — `npm run chaos -- db-restart` saw webhooks acknowledged while
// FerretDB restarted, and lost. The database is reached through a TCP proxy that is then cut.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MongoClient } from 'mongodb';
import { insertNew } from '../../activities/inbox-writes';
import { freePort } from '../../scripts/stack/processes';
import { requireEnv, uniqueName } from '../helpers/env';

describe('insertNew when the database goes away', () => {
  const sockets = new Set<net.Socket>();
  let proxy: net.Server;
  let client: MongoClient;
  let uri = '';

  before(async () => {
    const target = new URL(requireEnv('MONGODB_URI'));
    proxy = net.createServer((downstream) => {
      const upstream = net.connect(Number(target.port || 27017), target.hostname);
      for (const s of [downstream, upstream]) { sockets.add(s); s.on('error', () => undefined); s.on('close', () => sockets.delete(s)); }
      downstream.pipe(upstream).pipe(downstream);
    });
    const port = await freePort();
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    uri = `mongodb://127.0.0.1:${port}/${uniqueName('insertnew')}`;
    client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 500 });
  });
  after(async () => {
    await client?.close().catch(() => undefined);
    proxy?.close();
    const direct = new URL(requireEnv('MONGODB_URI'));
    direct.pathname = new URL(uri).pathname;
    const cleanup = await MongoClient.connect(direct.toString());
    await cleanup.db().dropDatabase().catch(() => undefined);
    await cleanup.close();
  });

  it('stores and reports new documents, refuses duplicates', async () => {
    const collection = client.db().collection('queue');
    assert.deepEqual([...await insertNew(collection, [{ _id: 'a' }, { _id: 'b' }])].sort(), ['a', 'b']);
    assert.deepEqual([...await insertNew(collection, [{ _id: 'b' }, { _id: 'c' }])], ['c']);
  });

  it('fails, reporting nothing stored, once the connection is cut', async () => {
    proxy.close();
    for (const s of sockets) s.destroy();
    await assert.rejects(insertNew(client.db().collection('queue'), [{ _id: 'd' }, { _id: 'e' }]));
  });
});
