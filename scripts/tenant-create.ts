// `npm run tenant:create -- --name "Acme"`: creates a tenant and prints its first admin API key,
// once. Uses MONGODB_URI, or the embedded stack's FerretDB when unset.
import { parseArgs } from 'node:util';
import mongoose from 'mongoose';
import { connectDatabase } from '../lib/db';
import { createTenantWithAdminKey } from '../api/auth/keys';

async function main() {
  const { values } = parseArgs({ options: { name: { type: 'string' } } });
  const name = values.name?.trim();
  if (!name) {
    process.stderr.write('usage: npm run tenant:create -- --name "Acme"\n');
    process.exit(2);
  }
  const uri = process.env.MONGODB_URI ?? `mongodb://127.0.0.1:${process.env.FERRETDB_PORT ?? 27017}/switchboard`;
  await connectDatabase(uri, { serverSelectionTimeoutMS: 5000 }).catch((err) => {
    throw new Error(`cannot reach MongoDB at ${uri} (${err.message}). Is \`npm start\` running, or MONGODB_URI set?`);
  });
  const { tenant, secret } = await createTenantWithAdminKey(name);
  process.stdout.write(`Tenant "${tenant.name}" created: ${tenant._id}\nAdmin API key (shown once, keep it safe):\n${secret}\n`);
  await mongoose.disconnect();
}

main().catch((err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
